import t from 'tap'
import { build, createLogin, startEmulator } from '../helper.js'
import { startRedisProxy } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'
import { scanXml, signedQuery } from '../fixtures/webhook.js'

t.test('liveness and readiness', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const live = await fetch(`${app.url}/healthz`)
  t.same({ status: live.status, body: await live.json() }, { status: 200, body: { status: 'ok' } })
  const ready = await fetch(`${app.url}/readyz`)
  t.same({ status: ready.status, body: await ready.json() }, { status: 200, body: { status: 'ready', mode: 'redis' } })
})

t.test('Redis down: readiness 503, webhook 503 at once, and both recover', async (t) => {
  const proxy = await startRedisProxy(t)
  const app = await build(t, { emulator: await startEmulator(t), env: { REDIS_URL: proxy.url } })
  const login = await createLogin(app)

  proxy.cut()
  const ready = await fetch(`${app.url}/readyz`)
  t.equal(ready.status, 503)
  t.same(await ready.json(), { status: 'unavailable', error: 'store_unreachable' })

  const push = await fetch(`${app.url}/wechat/webhook?${signedQuery()}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: scanXml(login.scene) })
  t.equal(push.status, 503, 'WeChat is told to retry instead of waiting for its 5 s timeout')
  t.equal(push.headers.get('retry-after'), '1')
  const create = await fetch(`${app.url}/api/login/qr`, { method: 'POST' })
  t.equal(create.status, 503)
  t.same(await create.json(), { error: 'unavailable' }, 'no internal message in the body')

  proxy.restore()
  // Reconnection is ioredis' job, and nothing announces it: the test asks, with a bound.
  await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 200, { timeoutMs: 10_000, intervalMs: 50, what: '/readyz to answer 200' })
  t.equal((await fetch(`${app.url}/readyz`)).status, 200, 'ready again once Redis is back')
})
