import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { callbackUrl, authorizeUrl } from '../../src/oauth/endpoints.js'
import { createConfirmPurpose } from '../../src/oauth/confirm-purpose.js'
import { createLoginPurpose } from '../../src/oauth/login-purpose.js'
import { createOAuthService } from '../../src/oauth/service.js'
import { returnOrigins } from '../../src/oauth/settings.js'
import { createSnsClient } from '../../src/oauth/sns.js'
import { createSealer, deriveKey, parseTokenEncKey } from '../../src/oauth/token-cipher.js'

declare module 'fastify' {
  interface FastifyInstance {
    oauth: ReturnType<typeof createOAuth>
  }
}

/** A repeated callback waits at most this long for the first: under the server's 30 s requestTimeout. */
const MAX_SETTLE_WAIT_MS = 25_000
/** A confirmation link that beat its scan's job waits this long for it (the job takes milliseconds). */
const CONFIRM_SCAN_WAIT_MS = 5000

function createOAuth (fastify: FastifyInstance) {
  const { config, drivers, wechatHttp } = fastify
  const log = fastify.log.child({ component: 'oauth' })
  // loadConfig has refused a bad key, and a missing one outside the emulator.
  let key = config.TOKEN_ENC_KEY === undefined ? null : parseTokenEncKey(config.TOKEN_ENC_KEY)
  if (key === null) {
    key = randomBytes(32)
    log.warn('TOKEN_ENC_KEY unset (emulator): a key made up for this process; users\' OAuth tokens do not survive a restart')
  }
  const sealer = createSealer(key)
  const confirmation = createConfirmPurpose({
    store: drivers.loginStore,
    bus: drivers.loginBus,
    sealer,
    codeTtlMs: config.LOGIN_CODE_TTL_SECONDS * 1000,
    scanWaitMs: CONFIRM_SCAN_WAIT_MS,
    log: log.child({ purpose: 'confirm' }),
    onFinal: (status) => fastify.metrics.logins.inc({ status })
  })
  const service = createOAuthService({
    states: drivers.oauthStateStore,
    userTokens: drivers.userTokenStore,
    sns: createSnsClient(wechatHttp),
    sealer,
    apps: {
      mp: { flow: 'mp', appId: config.WECHAT_APP_ID, appSecret: config.WECHAT_APP_SECRET },
      web: config.WECHAT_OPEN_APP_ID === undefined || config.WECHAT_OPEN_APP_SECRET === undefined
        ? null
        : { flow: 'web', appId: config.WECHAT_OPEN_APP_ID, appSecret: config.WECHAT_OPEN_APP_SECRET }
    },
    purposes: {
      login: createLoginPurpose({ loginStore: drivers.loginStore, codeTtlMs: config.LOGIN_CODE_TTL_SECONDS * 1000 }),
      confirm: confirmation.page
    },
    openBase: () => fastify.endpoints.openBase,
    callbackUrl: callbackUrl(config),
    restartUrl: (params) => authorizeUrl(config, params),
    stateTtlMs: config.OAUTH_STATE_TTL_SECONDS * 1000,
    // The first callback makes two WeChat calls, each retried up to the deadline.
    settleWaitMs: Math.min(2 * (config.WECHAT_RETRY_DEADLINE_MS + config.WECHAT_TIMEOUT_MS) + 1000, MAX_SETTLE_WAIT_MS),
    log
  })
  return {
    ...service,
    returnOrigins: new Set(returnOrigins(config)),
    /** Confirm on the phone (LOGIN_REQUIRE_CONFIRM): the confirmation page's checks and decisions. */
    confirmation,
    /** Signs the browser-binding cookie: derived from TOKEN_ENC_KEY, never the encryption key itself. */
    cookieSecret: deriveKey(key, 'oauth cookie signing')
  }
}

/** WeChat OAuth2 (both flows), mounted only when OAuth is configured (src/oauth/settings.ts). */
export default fp(async function oauthPlugin (fastify) {
  fastify.decorate('oauth', createOAuth(fastify))
}, { name: 'oauth', fastify: '5.x', dependencies: ['config', 'metrics', 'endpoints', 'drivers', 'wechat'] })
