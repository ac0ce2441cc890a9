import t from 'tap'
import { build, createLogin, startEmulator, startRedisProxy } from '../helper.js'
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
  await waitUntilReady(app.url)
  t.equal((await fetch(`${app.url}/readyz`)).status, 200, 'ready again once Redis is back')
})

/** Reconnection is ioredis' job; the test waits for it by asking, with a bound. */
async function waitUntilReady (url: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while ((await fetch(`${url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error('not ready again within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
