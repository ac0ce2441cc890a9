import t from 'tap'
import { WebSocket } from 'ws'
import { DRIVERS, build, startEmulator } from '../helper.js'

const createLogin = (url: string, headers: Record<string, string> = {}) => fetch(`${url}/api/login/qr`, { method: 'POST', headers })

for (const driver of DRIVERS) {
  t.test(`${driver}: login creation is limited per IP with 429 and Retry-After`, async (t) => {
    const app = await build(t, { driver, emulator: await startEmulator(t), env: { RATE_LIMIT_QR_PER_IP: '2' } })
    t.equal((await createLogin(app.url)).status, 201)
    t.equal((await createLogin(app.url)).status, 201)
    const limited = await createLogin(app.url)
    t.equal(limited.status, 429)
    t.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After says when to come back')
    t.match(await limited.json(), { error: 'rate_limited' })
  })
}

t.test('the global limit holds across instances sharing Redis', async (t) => {
  const emulator = await startEmulator(t)
  const env = { RATE_LIMIT_QR_GLOBAL: '3', RATE_LIMIT_QR_PER_IP: '0' }
  const a = await build(t, { emulator, env })
  const b = await build(t, { emulator, env, prefix: a.config.REDIS_PREFIX })
  const statuses = []
  for (const url of [a.url, b.url, a.url, b.url]) statuses.push((await createLogin(url)).status)
  t.same(statuses, [201, 201, 201, 429], 'the fourth login of the deployment is refused, whichever instance gets it')
})

t.test('0 turns a limit off', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { RATE_LIMIT_QR_PER_IP: '0', RATE_LIMIT_QR_GLOBAL: '0' } })
  const statuses = await Promise.all(Array.from({ length: 25 }, async () => (await createLogin(app.url)).status))
  t.ok(statuses.every((status) => status === 201), '25 logins from one IP in a minute')
})

t.test('X-Forwarded-For counts only when TRUST_PROXY says so', async (t) => {
  const emulator = await startEmulator(t)
  const untrusted = await build(t, { emulator, env: { RATE_LIMIT_QR_PER_IP: '1' } })
  t.equal((await createLogin(untrusted.url, { 'x-forwarded-for': '203.0.113.1' })).status, 201)
  t.equal((await createLogin(untrusted.url, { 'x-forwarded-for': '203.0.113.2' })).status, 429, 'a forged header does not buy a new budget')

  const trusted = await build(t, { emulator, env: { RATE_LIMIT_QR_PER_IP: '1', TRUST_PROXY: '127.0.0.1' } })
  t.equal((await createLogin(trusted.url, { 'x-forwarded-for': '203.0.113.1' })).status, 201)
  t.equal((await createLogin(trusted.url, { 'x-forwarded-for': '203.0.113.2' })).status, 201, 'behind a trusted proxy each client has its own budget')
  t.equal((await createLogin(trusted.url, { 'x-forwarded-for': '203.0.113.1' })).status, 429)
})

t.test('status polling and code exchange are limited too', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { RATE_LIMIT_STATUS_PER_IP: '2', RATE_LIMIT_EXCHANGE_PER_KEY: '2' } })
  const poll = () => fetch(`${app.url}/api/login/status?scene=x`, { headers: { authorization: 'Bearer guess' } })
  t.same([(await poll()).status, (await poll()).status, (await poll()).status], [404, 404, 429])

  const tryCode = (key: string) => fetch(`${app.url}/api/login/exchange`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{"code":"guess"}'
  })
  const key = app.config.API_KEY
  t.same([(await tryCode(key)).status, (await tryCode(key)).status, (await tryCode(key)).status], [400, 400, 429])
  t.equal((await tryCode('another-key-entirely')).status, 401, 'another key has its own budget')
})

t.test('the login socket refuses pages of other origins before the upgrade', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { ALLOWED_ORIGINS: 'https://shop.example.com, https://www.example.com' } })
  const wsUrl = `${app.url.replace(/^http/, 'ws')}/api/login/ws`
  const attempt = (origin?: string) => new Promise<number | 'open'>((resolve) => {
    const ws = new WebSocket(wsUrl, origin === undefined ? {} : { origin })
    ws.on('open', () => { ws.close(); resolve('open') })
    ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
    ws.on('error', () => {})
  })
  t.equal(await attempt('https://evil.example.net'), 403, 'a foreign page is refused')
  t.equal(await attempt('https://shop.example.com'), 'open', 'a listed origin is let in')
  t.equal(await attempt('https://www.example.com'), 'open')
  t.equal(await attempt(), 'open', 'a non-browser client (no Origin) is let in')
  t.ok(app.logs.some((line) => line.includes('foreign origin refused')))
})

t.test('the page is served with security headers and a CSP that keeps the opener', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const page = await fetch(`${app.url}/`)
  t.equal(page.status, 200)
  const csp = page.headers.get('content-security-policy') ?? ''
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'/)
  t.notMatch(csp, /unsafe-inline/, 'no inline script or style allowed')
  t.match(csp, /frame-ancestors 'self'/)
  t.equal(page.headers.get('cross-origin-opener-policy'), 'unsafe-none', 'a popup can still post to its opener')
  t.equal(page.headers.get('x-content-type-options'), 'nosniff')
})
