import fp from 'fastify-plugin'
import { createLoginService } from '../../src/login/service.js'
import { wechatEndpoints } from '../../src/wechat/endpoints.js'
import { listeningOrigin } from '../../src/util/listening-url.js'

declare module 'fastify' {
  interface FastifyInstance {
    logins: ReturnType<typeof createLoginService>
  }
}

export default fp(async function loginsPlugin (fastify) {
  const { config, drivers, wechat } = fastify
  // Browsers load the QR image: from WeChat, or from the emulator under PUBLIC_URL.
  const { mpBase } = wechatEndpoints(config, () => listeningOrigin(fastify.server))
  fastify.decorate('logins', createLoginService({
    store: drivers.loginStore,
    wechat,
    loginTtlSeconds: config.LOGIN_TTL_SECONDS,
    codeTtlSeconds: config.LOGIN_CODE_TTL_SECONDS,
    mpBase: () => mpBase
  }))
}, { name: 'logins', fastify: '5.x', dependencies: ['config', 'drivers', 'wechat'] })
