import t from 'tap'
import { DRIVERS_AND_CLUSTER, build, createLogin, exchange, startEmulator, type TestEmulator } from '../helper.js'
import { cleanupKeys, uniquePrefix } from '../helpers/redis.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

function userWho (emulator: TestEmulator, following: boolean) {
  const user = emulator.emulator.users.find((candidate) => candidate.following === following && candidate.unionid !== null)
  if (user === undefined) throw new Error(`the emulator has no test user with following=${following}`)
  return user
}

/** The contract, run against every state driver: embedded mode and Redis Cluster must not drift from one Redis. */
for (const driver of DRIVERS_AND_CLUSTER) {
  t.test(`${driver}: first follow: subscribe event → socket gets confirmed → code redeems once`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator })
    const login = await createLogin(app)
    const user = userWho(emulator, false)

    const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    t.equal((await socket.next()).status, 'pending', 'the current state comes at once')

    const push = await emulator.emulator.scan(login.ticket, user.openid)
    t.equal(push.status, 200)
    t.equal(push.body, 'success', 'WeChat is answered "success"')

    const { message, seen } = await waitForStatus(socket, 'confirmed')
    t.notOk(seen.some((status) => status.startsWith('error')), 'no error on the way')
    t.type(message.code, 'string')
    t.ok((message.expiresIn ?? 0) > 0, 'the code has a lifetime')
    t.equal(await socket.closed, 1000, 'a final status closes the socket normally')

    const first = await exchange(app, message.code ?? '')
    t.equal(first.status, 200)
    t.match(first.body, { openid: user.openid, unionid: user.unionid, scene: login.scene, subscribed: true })
    t.ok(!Number.isNaN(Date.parse(String(first.body.confirmedAt))), 'confirmedAt is a date')

    const second = await exchange(app, message.code ?? '')
    t.same(second, { status: 400, body: { error: 'invalid_grant' } }, 'a code works once')
  })

  t.test(`${driver}: already following: SCAN event confirms the login too`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator })
    const login = await createLogin(app)
    const user = userWho(emulator, true)
    const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    await socket.next()

    await emulator.emulator.scan(login.ticket, user.openid)
    const { message } = await waitForStatus(socket, 'confirmed')
    const redeemed = await exchange(app, message.code ?? '')
    t.match(redeemed.body, { openid: user.openid, scene: login.scene })
  })

  t.test(`${driver}: WeChat retries: the same push three times makes one login code`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator })
    const login = await createLogin(app)
    const user = userWho(emulator, true)
    const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    await socket.next()

    const push = await emulator.emulator.scan(login.ticket, user.openid)
    const retries = await Promise.all([emulator.emulator.replay(push), emulator.emulator.replay(push)])
    t.same(retries.map((retry) => retry.body), ['success', 'success'], 'every retry is acknowledged')

    const { message } = await waitForStatus(socket, 'confirmed')
    t.equal((await exchange(app, message.code ?? '')).status, 200)
    t.equal(emulator.emulator.counters.userInfoCalls, 1, 'the event was processed once')
    const outcomes = app.logs.filter((line) => line.includes('scan event received')).map((line) => JSON.parse(line).outcome)
    t.same(outcomes.sort(), ['duplicate', 'duplicate', 'queued'], 'two of the three deliveries were recognised as retries')
  })

  t.test(`${driver}: a socket that subscribes after the scan gets the current state at once`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator })
    const login = await createLogin(app)
    const watcher = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    await watcher.next()
    await emulator.emulator.scan(login.ticket, userWho(emulator, true).openid)
    const { message: confirmed } = await waitForStatus(watcher, 'confirmed')

    const late = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    const first = await late.next()
    t.equal(first.status, 'confirmed')
    t.equal(first.code, confirmed.code, 'the same code, not a new one')
    t.equal(await late.closed, 1000)
  })

  t.test(`${driver}: polling fallback reports the same states`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator })
    const login = await createLogin(app)
    const poll = async (scene: string, secret: string) => {
      const response = await fetch(`${app.url}/api/login/status?scene=${encodeURIComponent(scene)}`, { headers: { authorization: `Bearer ${secret}` } })
      return { status: response.status, body: await response.json() as Record<string, unknown> }
    }

    t.match(await poll(login.scene, login.secret), { status: 200, body: { type: 'status', status: 'pending' } })
    t.same(await poll(login.scene, 'not-the-secret'), { status: 404, body: { error: 'not_found' } }, 'a wrong secret looks like an unknown scene')
    t.same(await poll('x'.repeat(32), login.secret), { status: 404, body: { error: 'not_found' } })
    const noAuth = await fetch(`${app.url}/api/login/status?scene=${login.scene}`)
    t.equal(noAuth.status, 404)

    const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    await socket.next()
    await emulator.emulator.scan(login.ticket, userWho(emulator, true).openid)
    const { message } = await waitForStatus(socket, 'confirmed')
    t.match(await poll(login.scene, login.secret), { status: 200, body: { status: 'confirmed', code: message.code } })
  })

  t.test(`${driver}: expiry is pushed although no event ever comes`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator, env: { LOGIN_TTL_SECONDS: '1' } })
    const login = await createLogin(app)
    t.equal(login.expiresIn, 1)
    const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    t.equal((await socket.next()).status, 'pending')
    t.match(await socket.next(), { type: 'status', status: 'expired', expiresIn: 0 })
    t.equal(await socket.closed, 1000)

    const push = await emulator.emulator.scan(login.ticket, userWho(emulator, true).openid).catch((error: Error) => error)
    t.ok(push instanceof Error || push.body === 'success', 'a scan of an expired code changes nothing')
    const late = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    t.equal((await late.next()).status, 'expired', 'and a late reader still sees "expired"')
  })

  t.test(`${driver}: socket refusals: unknown scene, wrong secret, bad message`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator })
    const login = await createLogin(app)

    const unknown = await openLoginSocket(app, { scene: 'A'.repeat(32), secret: login.secret })
    t.same(await unknown.next(), { type: 'error', error: 'not_found' })
    t.equal(await unknown.closed, 4404)

    const wrongSecret = await openLoginSocket(app, { scene: login.scene, secret: 'guess' })
    t.same(await wrongSecret.next(), { type: 'error', error: 'not_found' })
    t.equal(await wrongSecret.closed, 4404)

    const garbage = await openLoginSocket(app)
    garbage.ws.send('{"type":"hello"}')
    t.same(await garbage.next(), { type: 'error', error: 'bad_request' })
    t.equal(await garbage.closed, 4400)
  })

  // The socket route's own 10 s timer, no state in it: not waited for a third time on the cluster.
  if (driver !== 'cluster') {
    t.test(`${driver}: a socket that never subscribes is closed with 4408`, async (t) => {
      const app = await build(t, { driver, emulator: await startEmulator(t) })
      const silent = await openLoginSocket(app)
      t.equal(await silent.closed, 4408)
    })
  }

  t.test(`${driver}: exchange refuses a wrong API key and an unknown code`, async (t) => {
    const app = await build(t, { driver, emulator: await startEmulator(t) })
    const wrongKey = await exchange(app, 'whatever', 'not-the-key-at-all')
    t.same(wrongKey, { status: 401, body: { error: 'unauthorized' } })
    t.same(await exchange(app, 'no-such-code'), { status: 400, body: { error: 'invalid_grant' } })
    t.notOk(app.logs.some((line) => line.includes('no-such-code')), 'the presented code is not logged')
  })
}

t.test('two instances on one Redis: socket on A, webhook on B', async (t) => {
  const prefix = uniquePrefix('two-instances')
  cleanupKeys(t, prefix)
  const emulator = await startEmulator(t)
  const a = await build(t, { emulator, prefix, env: { RUN_WORKER: '0' } })
  const b = await build(t, { emulator, prefix })
  emulator.pushTo(b)

  const login = await createLogin(a)
  const socket = await openLoginSocket(a, { scene: login.scene, secret: login.secret })
  t.equal((await socket.next()).status, 'pending')
  await emulator.emulator.scan(login.ticket, userWho(emulator, false).openid)

  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal((await exchange(b, message.code ?? '')).status, 200, 'the code is valid on every instance')
})
