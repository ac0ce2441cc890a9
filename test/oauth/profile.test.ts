import { Redis } from 'ioredis'
import t from 'tap'
import { createSealer, parseTokenEncKey } from '../../src/oauth/token-cipher.js'
import { DRIVERS, TEST_WECHAT, type TestApp } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'
import { Browser, SITE, TEST_OPEN_APP, TEST_TOKEN_ENC_KEY, authorizeAs, buildOAuthApp, control, emulatorUsers, oauthCounters } from './helper.js'

async function profile (app: TestApp, body: unknown, apiKey: string = TEST_WECHAT.API_KEY): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(`${app.url}/api/users/profile`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify(body)
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

/** Logs a test user in with a profile scope; returns the openid the app knows them by. */
async function logIn (app: TestApp, flow: 'mp' | 'web', scope = flow === 'mp' ? 'snsapi_userinfo' : 'snsapi_login'): Promise<string> {
  const browser = new Browser()
  const { callback } = await authorizeAs(browser, app, { flow, scope })
  const done = await browser.get(callback)
  const code = new URL(done.location ?? '').searchParams.get('code') ?? ''
  const response = await fetch(`${app.url}/api/login/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_WECHAT.API_KEY}` },
    body: JSON.stringify({ code })
  })
  const identity = await response.json() as { openid: string }
  return identity.openid
}

for (const driver of DRIVERS) {
  t.test(`${driver}: POST /api/users/profile: a fresh profile with the stored token; with an expired one, refreshed first`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const [user] = await emulatorUsers(app)
    const openid = await logIn(app, 'mp')
    t.equal(openid, user?.openid)

    const fresh = await profile(app, { openid })
    t.equal(fresh.status, 200)
    t.same(fresh.body, {
      openid,
      unionid: user?.unionid,
      flow: 'mp',
      profile: { nickname: user?.nickname, headimgurl: (fresh.body.profile as { headimgurl: string }).headimgurl, sex: 0, province: '', city: '', country: '', privilege: [] }
    })
    t.match(await oauthCounters(app), { refreshes: 0, userInfoCalls: 2 }, 'the token from the login served')

    t.equal(await control(app, 'expire-access-tokens'), 200)
    const refreshed = await profile(app, { openid })
    t.equal(refreshed.status, 200, 'WeChat said 42001: refreshed with the refresh token, then read')
    t.match(refreshed.body, { openid, profile: { nickname: user?.nickname } })
    t.match(await oauthCounters(app), { refreshes: 1, userInfoCalls: 4 })
    t.equal((await profile(app, { openid })).status, 200)
    t.match(await oauthCounters(app), { refreshes: 1 }, 'the refreshed token is stored and used next time')
  })

  t.test(`${driver}: a refused refresh token: 409 reauthorize_required, and the tokens are forgotten`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const openid = await logIn(app, 'web')
    t.equal(await control(app, 'expire-access-tokens'), 200)
    t.equal(await control(app, 'revoke-refresh-tokens'), 200)
    const refused = await profile(app, { openid })
    t.equal(refused.status, 409)
    t.equal(refused.body.error, 'reauthorize_required')
    t.match(await oauthCounters(app), { refreshes: 1 })
    t.equal((await profile(app, { openid })).status, 409)
    t.match(await oauthCounters(app), { refreshes: 1 }, 'not asked again: the tokens are gone')

    const again = await logIn(app, 'web')
    t.equal(again, openid)
    t.equal((await profile(app, { openid, flow: 'web' })).status, 200, 'a new authorization brings them back')
  })

  t.test(`${driver}: no profile without a profile scope, for an unknown user, or for the wrong flow`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const base = await logIn(app, 'mp', 'snsapi_base')
    t.same((await profile(app, { openid: base })).body.error, 'reauthorize_required', 'snsapi_base keeps no token')
    t.equal((await profile(app, { openid: 'o-nobody-0000000000000000000' })).status, 409)
    const web = await logIn(app, 'web')
    t.equal((await profile(app, { openid: web, flow: 'mp' })).status, 409, "the website app's user is not the Official Account's")
    t.equal((await profile(app, { openid: web })).status, 200, 'without flow both apps are tried')
  })
}

t.test('profile requests need the API key and a well-formed body', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'embedded' })
  const wrong = await profile(app, { openid: 'o-x' }, 'wrong-api-key-0123456789')
  t.equal(wrong.status, 401)
  t.equal(wrong.body.error, 'unauthorized')
  t.equal((await profile(app, {})).status, 400)
  t.equal((await profile(app, { openid: 'o-x', flow: 'scan' })).status, 400)
})

t.test('Redis holds no readable token, state or login code, and no openid in a key name', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'redis' })
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  const browser = new Browser()
  const { callback } = await authorizeAs(browser, app, { flow: 'mp', scope: 'snsapi_userinfo' })
  const state = new URL(callback).searchParams.get('state') ?? ''
  const done = await browser.get(callback)
  const loginCode = new URL(done.location ?? '').searchParams.get('code') ?? ''
  const openid = (await emulatorUsers(app))[0]?.openid ?? ''

  const keys = await redis.keys(`${app.config.REDIS_PREFIX}oauth:*`)
  t.equal(keys.length, 2, 'a state and a user')
  for (const key of keys) {
    t.notOk(key.includes(state), 'the key names no state')
    t.notOk(key.includes(openid), 'nor openid')
  }
  const userKey = keys.find((key) => key.includes(':oauth:user:')) ?? ''
  const stateKey = keys.find((key) => key.includes(':oauth:state:')) ?? ''
  const sealed = await redis.get(userKey) ?? ''
  t.match(sealed, /^v1\./, 'a sealed value')
  t.ok(await redis.pttl(userKey) > 29 * 24 * 3600 * 1000, 'kept for the refresh token\'s 30 days')

  // With the key, the value opens to real tokens (the emulator accepts them); without it, to nothing.
  const key = parseTokenEncKey(TEST_TOKEN_ENC_KEY)
  if (key === null) throw new Error('bad test key')
  const context = `user-tokens:${TEST_WECHAT.WECHAT_APP_ID}:${openid}`
  const tokens = JSON.parse(createSealer(key).open(sealed, context) ?? '{}') as { accessToken: string, refreshToken: string }
  const check = await (await fetch(`${app.url}/_emulator/sns/userinfo?${new URLSearchParams({ access_token: tokens.accessToken, openid }).toString()}`)).json() as { openid?: string }
  t.equal(check.openid, openid, 'the sealed access token is the real one')
  t.ok(tokens.refreshToken.length > 20)
  t.notOk(sealed.includes(tokens.accessToken), 'the access token is not readable in Redis')
  t.notOk(sealed.includes(tokens.refreshToken), 'nor the refresh token')
  t.notOk(Buffer.from(sealed.slice(3), 'base64url').includes(Buffer.from(tokens.accessToken)), 'not even base64-decoded')
  t.equal(createSealer(Buffer.alloc(32, 7)).open(sealed, context), null, 'another key opens nothing')
  t.equal(createSealer(key).open(sealed, `user-tokens:${TEST_OPEN_APP.WECHAT_OPEN_APP_ID}:${openid}`), null, "nor does the value under another user's name")

  const stateHash = await redis.hgetall(stateKey)
  t.match(stateHash, { status: 'settled', flow: 'mp', returnTo: `${SITE}/account/welcome?from=wechat` })
  t.notOk(JSON.stringify(stateHash).includes(loginCode), 'the answer kept for a repeated callback is sealed: no login code')
  t.notOk(JSON.stringify(stateHash).includes(state), 'no state')
})
