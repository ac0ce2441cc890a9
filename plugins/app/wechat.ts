import fp from 'fastify-plugin'
import { Agent, ProxyAgent, type Dispatcher } from 'undici'
import { createAccessTokens } from '../../src/wechat/access-token.js'
import { createWeChatClient } from '../../src/wechat/client.js'
import { createWeChatHttp, type WeChatHttp } from '../../src/wechat/http.js'
import { centralTokenSource, legacyTokenSource, stableTokenSource, type TokenSource } from '../../src/wechat/token-source.js'

declare module 'fastify' {
  interface FastifyInstance {
    wechat: ReturnType<typeof createWeChatClient>
    /** The retrying WeChat HTTP client itself, for APIs that take no base access token (OAuth's sns/*). */
    wechatHttp: WeChatHttp
  }
}

/** Keep-alive: a login costs two WeChat calls, and a TLS handshake per call would double them. */
const AGENT_OPTIONS = { keepAliveTimeout: 30_000, connections: 64 } as const

/** The WeChat API client, reaching WeChat only through WECHAT_API_BASE (or the built-in emulator). */
export default fp(async function wechatPlugin (fastify) {
  const { config, drivers, endpoints, metrics } = fastify
  const log = fastify.log.child({ component: 'wechat' })
  const dispatchers: Dispatcher[] = []
  const direct = () => {
    const agent = new Agent(AGENT_OPTIONS)
    dispatchers.push(agent)
    return agent
  }
  fastify.addHook('onClose', async () => { await Promise.all(dispatchers.map((dispatcher) => dispatcher.close())) })

  const proxy = endpoints.useProxy ? config.HTTPS_PROXY : undefined
  const wechatDispatcher = proxy === undefined ? direct() : new ProxyAgent({ uri: proxy, ...AGENT_OPTIONS })
  if (proxy !== undefined) {
    dispatchers.push(wechatDispatcher)
    // The host only: a proxy URL may carry credentials.
    log.info({ proxy: new URL(proxy).host }, 'WeChat calls go through HTTPS_PROXY')
  }

  // On shutdown retries stop at once: a job caught mid-retry fails now and BullMQ runs it again later,
  // instead of holding the close for the whole retry deadline.
  const shuttingDown = new AbortController()
  fastify.addHook('preClose', async () => { shuttingDown.abort() })
  const retry = { deadlineMs: config.WECHAT_RETRY_DEADLINE_MS, signal: shuttingDown.signal }
  const http = createWeChatHttp({
    baseUrl: endpoints.apiBase,
    timeoutMs: config.WECHAT_TIMEOUT_MS,
    dispatcher: wechatDispatcher,
    retry,
    log,
    onAttempt: (api, errcode) => metrics.wechatCalls.inc({ api, errcode })
  })

  let source: TokenSource
  if (config.WECHAT_TOKEN_URL !== undefined) {
    // The company's own token service sits inside its network: reached directly, not through HTTPS_PROXY.
    source = centralTokenSource({ url: config.WECHAT_TOKEN_URL, dispatcher: direct(), timeoutMs: config.WECHAT_TIMEOUT_MS, retry, log })
    log.info({ tokenService: new URL(config.WECHAT_TOKEN_URL).host }, 'access tokens come from WECHAT_TOKEN_URL, never from WeChat')
  } else if (config.WECHAT_TOKEN_MODE === 'legacy') {
    source = legacyTokenSource(http, config.WECHAT_APP_ID, config.WECHAT_APP_SECRET)
  } else {
    source = stableTokenSource(http, config.WECHAT_APP_ID, config.WECHAT_APP_SECRET)
  }

  const tokens = createAccessTokens({
    cache: drivers.tokenCache,
    source,
    refreshMarginMs: config.TOKEN_REFRESH_MARGIN_SECONDS * 1000,
    // A fetch gives up at the retry deadline plus one attempt's timeout: a live holder never outlasts the lock.
    lockTtlMs: config.WECHAT_RETRY_DEADLINE_MS + config.WECHAT_TIMEOUT_MS + 1000,
    log,
    onFetch: (outcome) => metrics.tokenFetches.inc({ source: source.kind, outcome })
  })

  fastify.decorate('wechat', createWeChatClient({ http, tokens }))
  fastify.decorate('wechatHttp', http)
}, { name: 'wechat', fastify: '5.x', dependencies: ['config', 'endpoints', 'drivers', 'metrics'] })
