import { Redis } from 'ioredis'
import t from 'tap'
import { createSealer, deriveKey, parseTokenEncKey } from '../../src/oauth/token-cipher.js'
import { TEST_WECHAT, exchange } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'
import { Browser, TEST_OPEN_APP, TEST_TOKEN_ENC_KEY, authorizeAs, authorizeUrl, buildOAuthApp, control, emulatorUsers, popupData } from '../oauth/helper.js'

/** Everything a visitor and the backend do with OAuth, then every captured log line searched for every secret. */
t.test('no log line carries an OAuth secret: codes, states, cookies, users\' tokens, keys', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'redis' })
  t.equal(app.config.LOG_LEVEL, 'debug', 'everything the app can log is captured')
  const key = parseTokenEncKey(TEST_TOKEN_ENC_KEY)
  if (key === null) throw new Error('bad test key')
  const secrets = new Map<string, string>([
    ['TOKEN_ENC_KEY', TEST_TOKEN_ENC_KEY],
    ['TOKEN_ENC_KEY (hex)', key.toString('hex')],
    ['cookie signing key (hex)', deriveKey(key, 'oauth cookie signing').toString('hex')],
    ['cookie signing key (base64)', deriveKey(key, 'oauth cookie signing').toString('base64')],
    ['website app secret', TEST_OPEN_APP.WECHAT_OPEN_APP_SECRET],
    ['app secret', TEST_WECHAT.WECHAT_APP_SECRET],
    ['API key', TEST_WECHAT.API_KEY]
  ])
  const remember = (name: string, value: string | null | undefined) => {
    if (value === null || value === undefined || value === '') throw new Error(`no ${name} to search for`)
    secrets.set(name, value)
  }
  const browser = new Browser()
  const users = await emulatorUsers(app)

  // Each flow: WeChat's code and our state from the callback, the login code from where it lands.
  const flows = [
    { flow: 'mp', scope: 'snsapi_base' },
    { flow: 'mp', scope: 'snsapi_userinfo' },
    { flow: 'web', display: 'popup' }
  ] as const
  for (const [index, flow] of flows.entries()) {
    const { callback } = await authorizeAs(browser, app, flow)
    remember(`WeChat code ${index}`, new URL(callback).searchParams.get('code'))
    remember(`state ${index}`, new URL(callback).searchParams.get('state'))
    const done = await browser.get(callback)
    // WeChat's connect_redirect: the same callback again.
    await browser.get(callback)
    const loginCode = done.location === null ? popupData(done.body).message.code : new URL(done.location).searchParams.get('code')
    remember(`login code ${index}`, loginCode)
    t.equal((await exchange(app, loginCode ?? '')).status, 200)
  }
  const cookie = browser.cookies.find((candidate) => candidate.name === 'wql_oauth_browser')
  remember('signed browser cookie', cookie?.value)
  remember('browser id', decodeURIComponent(cookie?.value ?? '').replace(/\.[^.]*$/, ''))

  // The backend reads profiles, once through a refresh and once into a refused refresh token.
  const profile = (openid: string) => fetch(`${app.url}/api/users/profile`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_WECHAT.API_KEY}` },
    body: JSON.stringify({ openid })
  })
  const openid = users[0]?.openid ?? ''
  t.equal((await profile(openid)).status, 200)
  await control(app, 'expire-access-tokens')
  t.equal((await profile(openid)).status, 200, 'refreshed')

  // Users' tokens, as sealed in Redis (the refreshed access token included).
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  const sealer = createSealer(key)
  let tokensFound = 0
  for (const userKey of await redis.keys(`${app.config.REDIS_PREFIX}oauth:user:*`)) {
    const sealed = await redis.get(userKey) ?? ''
    for (const [appId, who] of [[TEST_WECHAT.WECHAT_APP_ID, openid], ...users.map((user) => [TEST_OPEN_APP.WECHAT_OPEN_APP_ID, user.openid])]) {
      const opened = sealer.open(sealed, `user-tokens:${appId}:${who}`)
      if (opened === null) continue
      const tokens = JSON.parse(opened) as { accessToken: string, refreshToken: string }
      remember(`access token ${tokensFound}`, tokens.accessToken)
      remember(`refresh token ${tokensFound}`, tokens.refreshToken)
      tokensFound++
    }
  }
  t.equal(tokensFound, 1, "the Official Account user's tokens (the website app's user is under its own openid)")
  await control(app, 'revoke-refresh-tokens')
  await control(app, 'expire-access-tokens')
  t.equal((await profile(openid)).status, 409)

  // Refusals that carry secrets where they do not belong.
  const stranger = new Browser()
  const { callback } = await authorizeAs(browser, app, { flow: 'web' })
  remember('refused WeChat code', new URL(callback).searchParams.get('code'))
  remember('refused state', new URL(callback).searchParams.get('state'))
  t.equal((await stranger.get(callback)).status, 403, 'another browser')
  t.equal((await stranger.get(authorizeUrl(app, { flow: 'mp', returnTo: 'https://evil.example.net/steal' }))).status, 400)
  t.equal((await browser.get(`${app.url}/auth/wechat/callback?state=${secrets.get('state 0') ?? ''}&code=${secrets.get('WeChat code 1') ?? ''}`)).status, 400, 'a used state')
  t.equal((await fetch(`${app.url}/api/users/profile`, { method: 'POST', headers: { authorization: `Bearer ${secrets.get('access token 0') ?? ''}` } })).status, 401)

  const logs = app.logs.join('\n')
  t.ok(app.logs.length > 40, `${app.logs.length} log lines captured`)
  t.ok(logs.includes('OAuth login code issued') && logs.includes('OAuth callback refused'), 'the OAuth routes did log')
  for (const [name, value] of secrets) {
    t.ok(value.length >= 16, `${name} is long enough to search for`)
    t.notOk(logs.includes(value), `the ${name} is in no log line`)
    t.notOk(logs.includes(encodeURIComponent(value)), `the ${name} is in no log line, URL-encoded either`)
  }
})
