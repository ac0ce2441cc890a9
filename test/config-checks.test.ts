import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { EXAMPLE_API_KEY, configWarnings, isPublicHttpsUrl } from '../src/config-checks.js'
import { ConfigError } from '../src/config.js'
import { TEST_WECHAT, build, configRefusal } from './helper.js'

const root = join(import.meta.dirname, '..', '..')

t.test(".env.example's API_KEY, copied as it is, is refused", async (t) => {
  const example = readFileSync(join(root, '.env.example'), 'utf8')
  t.equal(/^API_KEY=(.*)$/m.exec(example)?.[1], EXAMPLE_API_KEY, 'the placeholder the check knows is the one in .env.example')
  const error = configRefusal({ API_KEY: EXAMPLE_API_KEY })
  t.type(error, ConfigError)
  t.match(error?.message, /API_KEY is \.env\.example's placeholder/)
  t.notMatch(error?.message, EXAMPLE_API_KEY, 'named, not quoted')
  t.equal(configRefusal({ API_KEY: 'a-key-of-our-own-0123456789' }), null)
})

t.test('the emulator refuses to run with a public https PUBLIC_URL', async (t) => {
  for (const url of ['https://login.example.com', 'https://203.0.113.7', 'https://[2001:db8::1]:8443']) {
    const error = configRefusal({ WECHAT_EMULATOR: '1', PUBLIC_URL: url })
    t.type(error, ConfigError, url)
    t.match(error?.message, /WECHAT_EMULATOR=1 with a public https PUBLIC_URL/)
  }
  t.match(configRefusal({ WECHAT_EMULATOR: '1', WECHAT_EMULATOR_PUBLIC_URL: 'https://phone.example.com' })?.message, /WECHAT_EMULATOR_PUBLIC_URL/, 'nor where it tells phones to go')
  for (const url of ['http://localhost:3000', 'http://192.168.1.20:3000', 'https://localhost:3443', 'https://10.1.2.3', 'https://demo.test', 'https://[::1]:3443', 'http://login.example.com']) {
    t.equal(configRefusal({ WECHAT_EMULATOR: '1', PUBLIC_URL: url }), null, `${url} is a laptop's, a LAN's, or not https`)
  }
  t.equal(configRefusal({ PUBLIC_URL: 'https://login.example.com' }), null, 'without the emulator a public URL is the point')
  t.notOk(isPublicHttpsUrl('https://172.20.0.5'), 'a private network')
  t.ok(isPublicHttpsUrl('https://172.32.0.5'), 'just outside it')
})

t.test('settings that quietly weaken the service are warned of', async (t) => {
  const strong = 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6'
  t.same(configWarnings({ TRUST_PROXY: '1', WECHAT_TOKEN: strong }), [], 'a hop count and a 32-character token: nothing to say')
  t.same(configWarnings({ TRUST_PROXY: '10.0.0.0/8', WECHAT_TOKEN: strong }), [])
  const [trustAll] = configWarnings({ TRUST_PROXY: 'true', WECHAT_TOKEN: strong })
  t.match(trustAll, /TRUST_PROXY=true trusts every X-Forwarded-For/)
  const [short] = configWarnings({ TRUST_PROXY: undefined, WECHAT_TOKEN: 'token2024' })
  t.match(short, /WECHAT_TOKEN has 9 characters: .*brute force/)
  t.notMatch(short, 'token2024', 'the token itself is not quoted')
})

t.test('the warnings are logged at boot', async (t) => {
  const app = await build(t, { env: { TRUST_PROXY: 'true' } })
  const warnings = app.logs.map((line) => JSON.parse(line) as { level: number, msg: string }).filter((line) => line.level === 40)
  t.ok(warnings.some((line) => line.msg.startsWith('TRUST_PROXY=true')), 'TRUST_PROXY=true')
  t.ok(warnings.some((line) => line.msg.startsWith('WECHAT_TOKEN has')), `the tests' own short token (${TEST_WECHAT.WECHAT_TOKEN.length} characters)`)
})
