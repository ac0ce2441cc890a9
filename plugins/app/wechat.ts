import type { AddressInfo } from 'node:net'
import fp from 'fastify-plugin'
import { Agent } from 'undici'
import { createAccessTokens } from '../../src/wechat/access-token.js'
import { createWeChatClient, fetchStableToken } from '../../src/wechat/client.js'
import { createWeChatHttp } from '../../src/wechat/http.js'

declare module 'fastify' {
  interface FastifyInstance {
    wechat: ReturnType<typeof createWeChatClient>
  }
}

/** Refresh a token this long before WeChat says it expires. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000

/** The WeChat API client, reaching WeChat only through WECHAT_API_BASE (or the built-in emulator). */
export default fp(async function wechatPlugin (fastify) {
  const { config, drivers } = fastify
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 64 })

  const baseUrl = () => {
    const address = fastify.server.address() as AddressInfo | null
    // The built-in emulator answers on our own port; a worker-only process has none, and uses WECHAT_API_BASE.
    if (config.WECHAT_EMULATOR && address !== null) return `http://127.0.0.1:${address.port}/_emulator`
    return config.WECHAT_API_BASE
  }
  const http = createWeChatHttp({ baseUrl, timeoutMs: config.WECHAT_TIMEOUT_MS, dispatcher })
  const tokens = createAccessTokens({
    cache: drivers.tokenCache,
    fetchToken: (force) => fetchStableToken(http, config.WECHAT_APP_ID, config.WECHAT_APP_SECRET, force),
    refreshMarginMs: TOKEN_REFRESH_MARGIN_MS
  })

  fastify.decorate('wechat', createWeChatClient({ http, tokens }))
  fastify.addHook('onClose', () => dispatcher.close())
}, { name: 'wechat', fastify: '5.x', dependencies: ['config', 'drivers'] })
