import t from 'tap'
import { build, startEmulator } from '../helper.js'
import { startRedisProxy } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'

t.test('liveness and readiness', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const live = await fetch(`${app.url}/healthz`)
  t.same({ status: live.status, body: await live.json() }, { status: 200, body: { status: 'ok' } })
  const ready = await fetch(`${app.url}/readyz`)
  t.same({ status: ready.status, body: await ready.json() }, { status: 200, body: { status: 'ready', mode: 'redis' } })
})

t.test('Redis down: readiness 503, new logins 503 (no internal message), and both recover', async (t) => {
  // The webhook's side of an outage (held, then spooled; never an error answer): test/faults/webhook-redis-down.test.ts.
  const proxy = await startRedisProxy(t)
  // No worker: BullMQ's own connections, closed while still reconnecting, would keep the test alive.
  const app = await build(t, { emulator: await startEmulator(t), env: { REDIS_URL: proxy.url, RUN_WORKER: '0' } })

  proxy.cut()
  const ready = await fetch(`${app.url}/readyz`)
  t.equal(ready.status, 503)
  t.same(await ready.json(), { status: 'unavailable', error: 'store_unreachable' })

  const create = await fetch(`${app.url}/api/login/qr`, { method: 'POST' })
  t.equal(create.status, 503)
  t.equal(create.headers.get('retry-after'), '1')
  t.same(await create.json(), { error: 'unavailable' }, 'no internal message in the body')

  proxy.restore()
  // Reconnection is ioredis' job, and nothing announces it: the test asks, with a bound.
  await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 200, { timeoutMs: 10_000, intervalMs: 50, what: '/readyz to answer 200' })
  t.equal((await fetch(`${app.url}/readyz`)).status, 200, 'ready again once Redis is back')
  t.equal((await fetch(`${app.url}/api/login/qr`, { method: 'POST' })).status, 201, 'and logins are created again')
})
