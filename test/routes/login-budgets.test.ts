/**
 * Budgets an attacker cannot exhaust on POST /api/login/qr: per client (IPv6 by /64), per Beijing
 * day below WeChat's quota, only from our own page's origins, and no quota spent while Redis is down.
 */
import { Redis } from 'ioredis'
import t from 'tap'
import { build, startEmulator, type TestApp } from '../helper.js'
import { redisUrl, startRedisProxy } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'
import { msUntilBeijingMidnight } from '../../src/util/beijing-day.js'

const createLogin = (app: TestApp, headers: Record<string, string> = {}) => fetch(`${app.url}/api/login/qr`, { method: 'POST', headers })

t.test('IPv6: a client rotating through the addresses of its /64 has one budget', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { RATE_LIMIT_QR_PER_IP: '2', TRUST_PROXY: '127.0.0.1' } })
  const from = (address: string) => createLogin(app, { 'x-forwarded-for': address })
  t.equal((await from('2001:db8:7:1::1')).status, 201)
  t.equal((await from('2001:db8:7:1:8a2e:370:7334:2')).status, 201)
  const rotated = await from('2001:db8:7:1:dead:beef:cafe:3')
  t.equal(rotated.status, 429, 'a third address of the same /64 is the same client')
  t.match(await rotated.json(), { error: 'rate_limited' })
  t.equal((await from('2001:db8:7:2::1')).status, 201, 'the next /64 is another client')
})

t.test("a page of another site cannot create logins through its visitors' browsers", async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator, env: { ALLOWED_ORIGINS: 'https://shop.example.com' } })
  const foreign = await createLogin(app, { origin: 'https://phish.example.net' })
  t.equal(foreign.status, 403)
  t.same(await foreign.json(), { error: 'forbidden_origin' })
  t.equal((await createLogin(app, { origin: 'null' })).status, 403, 'a sandboxed or file: page neither')
  t.equal(emulator.emulator.counters.qrCreates, 0, 'no QR quota spent on them')
  t.ok(app.logs.some((line) => line.includes('login creation from a foreign origin refused') && line.includes('phish.example.net')), 'logged with the origin')

  t.equal((await createLogin(app, { origin: app.url })).status, 201, 'our own page')
  t.equal((await createLogin(app, { origin: 'https://shop.example.com' })).status, 201, 'a site on ALLOWED_ORIGINS')
  t.equal((await createLogin(app)).status, 201, 'a client that is no browser page sends no Origin')
})

t.test('Redis down during POST /api/login/qr: 503, and no QR quota spent', async (t) => {
  const emulator = await startEmulator(t)
  const redis = await startRedisProxy(t)
  const app = await build(t, { emulator, env: { REDIS_URL: redis.url } })
  // The access token is now cached in the process too: WeChat could be called without Redis.
  t.equal((await createLogin(app)).status, 201)
  const spent = emulator.emulator.counters.qrCreates
  redis.cut()
  const response = await createLogin(app)
  t.equal(response.status, 503)
  t.same(await response.json(), { error: 'unavailable' })
  t.equal(emulator.emulator.counters.qrCreates, spent, 'qrcode/create was never called')
  redis.restore()
  // The app closes cleanly only once its connections are back (ioredis reconnects on its own).
  await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 200, { timeoutMs: 10_000, intervalMs: 50, what: '/readyz to answer 200' })
})

t.test('a WeChat refusal leaves no login behind', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  emulator.emulator.faults.errcode('qrcode/create', 45009)
  t.equal((await createLogin(app)).status, 502)
  const inspect = new Redis(redisUrl)
  t.after(() => inspect.quit())
  t.same(await inspect.keys(`${app.config.REDIS_PREFIX}login:*`), [], 'the login stored before the call was discarded')
})

t.test('the daily budget: an alarm at 80 %, refusals until midnight Beijing time, shared by the instances', async (t) => {
  const emulator = await startEmulator(t)
  const env = { RATE_LIMIT_QR_DAILY: '5', RATE_LIMIT_QR_PER_IP: '0' }
  const a = await build(t, { emulator, env })
  const b = await build(t, { emulator, env, prefix: a.config.REDIS_PREFIX })
  const statuses = []
  for (const app of [a, b, a, b, a]) statuses.push((await createLogin(app)).status)
  t.same(statuses, [201, 201, 201, 201, 201], 'five logins, whichever instance')
  const refused = await createLogin(b)
  t.equal(refused.status, 503, 'the sixth is refused by us, before WeChat would refuse the account everything')
  t.match(await refused.json(), { error: 'qr_budget_exhausted' })
  const retryAfter = Number(refused.headers.get('retry-after'))
  const untilMidnight = msUntilBeijingMidnight(Date.now()) / 1000
  t.ok(Math.abs(retryAfter - untilMidnight) < 5, `Retry-After ${retryAfter} s is the time to midnight in Beijing (${Math.round(untilMidnight)} s)`)
  t.equal(emulator.emulator.counters.qrCreates, 5, 'WeChat was asked five times')

  const lines = [...a.logs, ...b.logs].map((line) => JSON.parse(line) as { level: number, msg: string, used?: number })
  const alarms = lines.filter((line) => line.msg.includes("of today's QR budget"))
  t.equal(alarms.length, 1, 'one alarm in the whole deployment')
  t.match(alarms[0], { level: 40, used: 4 }, 'a warning at 4 of 5 (80 %)')
  const usedUp = lines.filter((line) => line.msg.includes('is used up'))
  t.equal(usedUp.length, 1)
  t.match(usedUp[0], { level: 50, used: 5 }, 'an error when the last one goes')
})

t.test('the defaults fit a new account\'s quota of 100 000 QR codes a day', async (t) => {
  const app = await build(t)
  t.equal(app.config.RATE_LIMIT_QR_DAILY, 90_000, 'a tenth of the quota kept back')
  t.ok(app.config.RATE_LIMIT_QR_GLOBAL * 60 * 2 < 90_000, 'a botnet at the global per-minute limit needs more than two hours to spend it')
})
