import { randomBytes } from 'node:crypto'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { checkReturnTo, withCode } from '../../src/oauth/return-to.js'
import { enabledFlows, oauthEnabled, returnOrigins } from '../../src/oauth/settings.js'
import { isOurState, newState } from '../../src/oauth/state.js'
import { createSealer, deriveKey, parseTokenEncKey } from '../../src/oauth/token-cipher.js'
import { TEST_WECHAT, build, configRefusal } from '../helper.js'
import { TEST_OPEN_APP, TEST_TOKEN_ENC_KEY } from './helper.js'

t.test('OAuth configured: an Open app or ALLOWED_RETURN_ORIGINS (or the emulator); only then TOKEN_ENC_KEY is required', async (t) => {
  t.equal(oauthEnabled(loadConfig({ ...TEST_WECHAT })), false, 'follow-scan alone: OAuth off')
  t.equal(configRefusal({ TOKEN_ENC_KEY: 'not a key' }), null, 'a bad key stops nothing while OAuth is off')

  const configurations: Array<Record<string, string>> = [{ ...TEST_OPEN_APP }, { ALLOWED_RETURN_ORIGINS: 'https://shop.example.com' }]
  for (const env of configurations) {
    const missing = configRefusal(env)
    t.type(missing, ConfigError, `${Object.keys(env).join('+')} without TOKEN_ENC_KEY is refused`)
    t.match(missing?.message, /TOKEN_ENC_KEY is required because OAuth is configured/)
    for (const bad of ['short', Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), `${TEST_TOKEN_ENC_KEY.slice(0, 42)}B=`]) {
      const error = configRefusal({ ...env, TOKEN_ENC_KEY: bad })
      t.match(error?.message, /TOKEN_ENC_KEY must be 32 bytes/, `refused: ${bad.length} characters`)
      t.notMatch(error?.message, bad, 'without quoting it')
    }
    t.ok(oauthEnabled(loadConfig({ ...TEST_WECHAT, ...env, TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY })))
  }
  t.equal(configRefusal({ WECHAT_EMULATOR: '1' }), null, 'the emulator makes up a key')
  t.match(configRefusal({ WECHAT_EMULATOR: '1', TOKEN_ENC_KEY: 'bad' })?.message, /TOKEN_ENC_KEY must be/, 'but a given one must be good')
  t.match(configRefusal({ WECHAT_OPEN_APP_ID: 'wxopen', TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY })?.message, /WECHAT_OPEN_APP_ID and WECHAT_OPEN_APP_SECRET go together/)
  t.match(configRefusal({ WECHAT_OPEN_APP_SECRET: 'x', TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY })?.message, /go together/)
  t.match(configRefusal({ ALLOWED_RETURN_ORIGINS: 'shop.example.com', TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY })?.message, /ALLOWED_RETURN_ORIGINS/)
})

t.test('defaults and derived settings', async (t) => {
  const config = loadConfig({ ...TEST_WECHAT })
  t.match(config, { WECHAT_OPEN_BASE: 'https://open.weixin.qq.com', OAUTH_STATE_TTL_SECONDS: 600, RATE_LIMIT_OAUTH_PER_IP: 30 })
  t.same(enabledFlows(config), { mp: false, web: false })
  t.same(enabledFlows(loadConfig({ ...TEST_WECHAT, ALLOWED_RETURN_ORIGINS: 'https://a.example.com', TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY })), { mp: true, web: false })
  t.same(enabledFlows(loadConfig({ ...TEST_WECHAT, ...TEST_OPEN_APP, TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY })), { mp: true, web: true })
  t.same(returnOrigins({ PUBLIC_URL: 'https://login.example.com/base', ALLOWED_RETURN_ORIGINS: undefined }), ['https://login.example.com'], "default: PUBLIC_URL's origin")
  t.same(returnOrigins({ PUBLIC_URL: 'https://login.example.com', ALLOWED_RETURN_ORIGINS: ' https://a.example.com/x , http://b.example.com:8080' }), ['https://a.example.com', 'http://b.example.com:8080'])
})

t.test('return_to: the exact origin, http(s), no credentials', async (t) => {
  const origins = new Set(['https://shop.example.com'])
  t.equal(checkReturnTo('https://shop.example.com/a?b=1#c', origins), 'https://shop.example.com/a?b=1#c')
  t.equal(checkReturnTo('https://SHOP.example.com', origins), 'https://shop.example.com/', 'hosts compare case-insensitively, as URLs do')
  for (const refused of ['https://shop.example.com.evil.net/', 'https://evil.net/?https://shop.example.com', 'https://a@shop.example.com/', 'http://shop.example.com/', 'ftp://shop.example.com/', 'shop.example.com', `https://shop.example.com/${'a'.repeat(2048)}`]) {
    t.equal(checkReturnTo(refused, origins), null, refused.slice(0, 60))
  }
  t.equal(withCode('https://shop.example.com/a?code=old&b=1#frag', 'NEW'), 'https://shop.example.com/a?code=NEW&b=1#frag', 'the code replaces any, before the fragment')
})

t.test('state: 32 letters and digits, every one of the 62 used', async (t) => {
  const states = Array.from({ length: 2000 }, newState)
  t.ok(states.every(isOurState))
  t.equal(new Set(states).size, states.length)
  t.equal(new Set(states.join('')).size, 62)
  t.notOk(isOurState(`${newState()}x`))
  t.notOk(isOurState('ABCDEFGHIJKLMNOPQRSTUVWXYZabcde-'))
})

t.test('TOKEN_ENC_KEY and the sealer: AES-256-GCM bound to a context', async (t) => {
  const key = parseTokenEncKey(TEST_TOKEN_ENC_KEY)
  if (key === null) throw new Error('the test key must parse')
  t.equal(key.length, 32)
  t.ok(parseTokenEncKey(TEST_TOKEN_ENC_KEY.replace(/=$/, '')), 'the padding may be left out')
  t.equal(parseTokenEncKey(` ${TEST_TOKEN_ENC_KEY}`), null)
  t.equal(parseTokenEncKey(Buffer.alloc(32, 0xfb).toString('base64url')), null, 'base64url is not accepted (one spelling only)')

  const sealer = createSealer(key)
  const sealed = sealer.seal('{"accessToken":"secret-token"}', 'user-tokens:app:openid')
  t.match(sealed, /^v1\.[\w-]+$/)
  t.not(sealer.seal('{"accessToken":"secret-token"}', 'user-tokens:app:openid'), sealed, 'a fresh IV each time')
  t.equal(sealer.open(sealed, 'user-tokens:app:openid'), '{"accessToken":"secret-token"}')
  t.equal(sealer.open(sealed, 'user-tokens:app:other'), null, 'another context')
  t.equal(createSealer(randomBytes(32)).open(sealed, 'user-tokens:app:openid'), null, 'another key')
  const bytes = Buffer.from(sealed.slice(3), 'base64url')
  for (const position of [0, 12, bytes.length - 1]) {
    const flipped = Buffer.from(bytes)
    flipped[position] = (flipped[position] ?? 0) ^ 1
    t.equal(sealer.open(`v1.${flipped.toString('base64url')}`, 'user-tokens:app:openid'), null, `a flipped bit at ${position}`)
  }
  t.equal(sealer.open(sealed.replace(/^v1/, 'v2'), 'user-tokens:app:openid'), null, 'an unknown version')
  t.equal(sealer.open('v1.', 'x'), null)
  t.not(deriveKey(key, 'oauth cookie signing').toString('hex'), key.toString('hex'), 'the cookie key is not the encryption key')
  t.throws(() => createSealer(Buffer.alloc(16)))
})

t.test('OAuth not configured: no /auth/wechat routes, and the page is told', async (t) => {
  const app = await build(t, { driver: 'embedded' })
  t.equal((await fetch(`${app.url}/auth/wechat/authorize?flow=mp&return_to=${encodeURIComponent(app.url)}`, { redirect: 'manual' })).status, 404)
  t.equal((await fetch(`${app.url}/api/users/profile`, { method: 'POST' })).status, 404)
  const config = await (await fetch(`${app.url}/api/login/config`)).json()
  t.same(config, { allowedOrigins: [app.url], showCode: false, webLogin: false, webLoginUrl: null, mpLogin: false, mpLoginUrl: null })
})
