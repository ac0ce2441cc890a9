import fp from 'fastify-plugin'
import { createLoginService } from '../../src/login/service.js'

declare module 'fastify' {
  interface FastifyInstance {
    logins: ReturnType<typeof createLoginService>
  }
}

export default fp(async function loginsPlugin (fastify) {
  const { config, drivers, wechat } = fastify
  fastify.decorate('logins', createLoginService({
    store: drivers.loginStore,
    wechat,
    loginTtlSeconds: config.LOGIN_TTL_SECONDS,
    codeTtlSeconds: config.LOGIN_CODE_TTL_SECONDS,
    // Browsers load the QR image; with the emulator it is served by this service itself.
    mpBase: () => config.WECHAT_EMULATOR ? `${config.PUBLIC_URL.replace(/\/$/, '')}/_emulator` : config.WECHAT_MP_BASE
  }))
}, { name: 'logins', fastify: '5.x', dependencies: ['config', 'drivers', 'wechat'] })
