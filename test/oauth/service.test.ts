import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { Agent } from 'undici'
import type { Drivers } from '../../src/drivers/index.js'
import { refused } from '../../src/oauth/answers.js'
import { createLoginPurpose } from '../../src/oauth/login-purpose.js'
import { createOAuthService } from '../../src/oauth/service.js'
import { REFRESH_TOKEN_LIFETIME_MS } from '../../src/oauth/user-tokens.js'
import { createSnsClient } from '../../src/oauth/sns.js'
import { createSealer } from '../../src/oauth/token-cipher.js'
import { createWeChatHttp } from '../../src/wechat/http.js'
import { TEST_WECHAT, startEmulator, type TestEmulator } from '../helper.js'
import { captureLog, driverMatrix } from '../drivers/matrix.js'
import { SITE, TEST_OPEN_APP } from './helper.js'

const STATE_TTL_MS = 600_000

/** The service on real drivers and the real WeChat client against the emulator, with a clock the test moves. */
async function setup (t: Test, drivers: Drivers, { settleWaitMs = 5000 } = {}) {
  const emulator: TestEmulator = await startEmulator(t, { openApp: { appId: TEST_OPEN_APP.WECHAT_OPEN_APP_ID, appSecret: TEST_OPEN_APP.WECHAT_OPEN_APP_SECRET } })
  const dispatcher = new Agent()
  t.after(() => dispatcher.close())
  const clock = { now: Date.now() }
  const now = () => clock.now
  const http = createWeChatHttp({ baseUrl: () => emulator.url, timeoutMs: 2000, dispatcher, retry: { deadlineMs: 2000 } })
  const log = captureLog()
  const service = createOAuthService({
    states: drivers.oauthStateStore,
    userTokens: drivers.userTokenStore,
    sns: createSnsClient(http),
    sealer: createSealer(Buffer.alloc(32, 1)),
    apps: {
      mp: { flow: 'mp', appId: TEST_WECHAT.WECHAT_APP_ID, appSecret: TEST_WECHAT.WECHAT_APP_SECRET },
      web: { flow: 'web', appId: TEST_OPEN_APP.WECHAT_OPEN_APP_ID, appSecret: TEST_OPEN_APP.WECHAT_OPEN_APP_SECRET }
    },
    // Confirmations have tests of their own (test/e2e/confirm*.test.ts).
    purposes: { login: createLoginPurpose({ loginStore: drivers.loginStore, codeTtlMs: 60_000, now }), confirm: async () => refused('unknown_state') },
    openBase: () => emulator.url,
    callbackUrl: 'https://login.example.com/auth/wechat/callback',
    restartUrl: (params) => `https://login.example.com/auth/wechat/authorize?${new URLSearchParams(params).toString()}`,
    stateTtlMs: STATE_TTL_MS,
    settleWaitMs,
    log,
    now
  })

  /** begin, then WeChat's page answered as the first test user: the callback's state and code. */
  async function authorized (flow: 'mp' | 'web', scope: 'snsapi_base' | 'snsapi_userinfo' | 'snsapi_login', browserId: string) {
    const begun = await service.begin({ flow, scope, purpose: 'login', returnTo: `${SITE}/back`, display: 'page', browserId })
    if (!begun.ok) throw new Error(`begin refused: ${begun.reason}`)
    const checked = emulator.oauth.checkAuthorize(flow === 'mp' ? 'oauth2' : 'qrconnect', Object.fromEntries(new URL(begun.location).searchParams))
    if (!checked.ok) throw new Error(`WeChat refused: ${checked.refusal.message}`)
    const callback = new URL(emulator.oauth.approve(checked.request, emulator.oauth.phoneUser))
    return { state: callback.searchParams.get('state') ?? '', code: callback.searchParams.get('code') ?? '' }
  }
  return { service, emulator, clock, authorized, log }
}

for (const driver of driverMatrix('oauth-service')) {
  t.test(`${driver.name}: a state is good until exactly its TTL, by the service's clock`, async (t) => {
    const { drivers } = await driver.create(t)
    const { service, clock, authorized, emulator } = await setup(t, drivers)
    const late = await authorized('mp', 'snsapi_base', 'browser-1')
    const onTime = await authorized('mp', 'snsapi_base', 'browser-1')
    clock.now += STATE_TTL_MS
    t.match(await service.finish({ ...late, browserId: 'browser-1' }), { kind: 'refused', reason: 'expired_state', restart: /flow=mp/ })
    clock.now -= 1
    t.match(await service.finish({ ...onTime, browserId: 'browser-1' }), { kind: 'redirect', location: /^https:\/\/shop\.example\.com\/back\?code=/ })
    t.equal(emulator.oauth.counters.codeExchanges, 1, 'the expired one never reached WeChat')
  })

  t.test(`${driver.name}: profile: an access token past its expiry by our clock is refreshed before use`, async (t) => {
    const { drivers } = await driver.create(t)
    const { service, clock, authorized, emulator } = await setup(t, drivers)
    const answer = await service.finish({ ...(await authorized('web', 'snsapi_login', 'browser-1')), browserId: 'browser-1' })
    const loginCode = answer.kind === 'redirect' ? new URL(answer.location).searchParams.get('code') ?? '' : ''
    const openid = (await drivers.loginStore.redeemCode(loginCode))?.openid ?? ''
    t.match(await service.profile(openid, 'web'), { kind: 'profile', flow: 'web', openid })
    t.match(emulator.oauth.counters, { refreshes: 0, userInfoCalls: 2 })

    clock.now += 7200 * 1000
    t.match(await service.profile(openid, 'web'), { kind: 'profile' })
    t.match(emulator.oauth.counters, { refreshes: 1, userInfoCalls: 3 }, 'refreshed first: no call with the expired token')

    clock.now += REFRESH_TOKEN_LIFETIME_MS
    t.same(await service.profile(openid, 'web'), { kind: 'reauthorize_required' }, 'after 30 days the tokens are gone')
  })

  t.test(`${driver.name}: a repeated callback waits for the first one at most settleWaitMs`, async (t) => {
    const { drivers } = await driver.create(t)
    const { service, authorized } = await setup(t, drivers, { settleWaitMs: 200 })
    const { state, code } = await authorized('mp', 'snsapi_base', 'browser-1')
    // A first callback that claimed the state and then died (its instance crashed).
    const browserHash = createHash('sha256').update('browser-1').digest('hex')
    const codeHash = createHash('sha256').update(`code:${code}`).digest('hex')
    t.equal((await drivers.oauthStateStore.claim(state, browserHash, codeHash, Date.now())).outcome, 'claimed')
    t.match(await service.finish({ state, code, browserId: 'browser-1' }), { kind: 'refused', reason: 'in_progress', restart: /return_to=/ })
  })

  t.test(`${driver.name}: tokens sealed with another key are dropped, and the user must authorize again`, async (t) => {
    const { drivers } = await driver.create(t)
    const { service, authorized, emulator, log } = await setup(t, drivers)
    await service.finish({ ...(await authorized('mp', 'snsapi_userinfo', 'b')), browserId: 'b' })
    const openid = emulator.oauth.phoneUser
    const other = createSealer(Buffer.alloc(32, 2)).seal('{}', `user-tokens:${TEST_WECHAT.WECHAT_APP_ID}:${openid}`)
    await drivers.userTokenStore.put(TEST_WECHAT.WECHAT_APP_ID, openid, other, Date.now() + 60_000)
    t.same(await service.profile(openid), { kind: 'reauthorize_required' })
    t.equal(await drivers.userTokenStore.get(TEST_WECHAT.WECHAT_APP_ID, openid), null)
    t.ok(log.entries.some((entry) => entry.level === 'warn' && String(entry.args[1]).includes('do not decrypt')))
  })
}
