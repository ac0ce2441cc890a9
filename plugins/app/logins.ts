import fp from 'fastify-plugin'
import { createLoginService } from '../../src/login/service.js'

declare module 'fastify' {
  interface FastifyInstance {
    logins: ReturnType<typeof createLoginService>
  }
}

export default fp(async function loginsPlugin (fastify) {
  const { config, drivers, wechat, endpoints } = fastify
  fastify.decorate('logins', createLoginService({
    store: drivers.loginStore,
    wechat,
    loginTtlSeconds: config.LOGIN_TTL_SECONDS,
    codeTtlSeconds: config.LOGIN_CODE_TTL_SECONDS,
    // Browsers load the QR image: from WeChat, or from the emulator under PUBLIC_URL.
    mpBase: () => endpoints.mpBase,
    log: fastify.log.child({ component: 'logins' })
  }))
}, { name: 'logins', fastify: '5.x', dependencies: ['config', 'endpoints', 'drivers', 'wechat'] })
