/**
 * Redis restarted without persistence while pages watch their logins on two instances. Its data is
 * gone: each instance puts back the logins its sockets hold (as `pending`, so the QR on screen
 * keeps working), resubscribes, and a change published while one instance was cut off still
 * reaches that instance's page.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { build, createLogin, exchange, startEmulator, type TestApp } from '../helper.js'
import { startRedisProxy, uniquePrefix } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { waitFor, waitForLogLine } from '../helpers/wait.js'
import { loginLogKey } from '../../src/login/log-key.js'

t.setTimeout(120_000)

async function spoolDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wql-fault-spool-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const restored = (scene: string) => (line: Record<string, unknown>) =>
  line.msg === 'login lost by the store (Redis restarted without its data): put back as pending' && line.login === loginLogKey(scene)

function readyz (app: TestApp): Promise<number> {
  return fetch(`${app.url}/readyz`).then((response) => response.status)
}

t.test('Redis restarted empty under two instances: sockets stay open, logins come back, a change missed while cut off still arrives', async (t) => {
  const redis = await startRedisServer(t)
  const proxyToB = await startRedisProxy(t, redis.url)
  const emulator = await startEmulator(t)
  const prefix = uniquePrefix('restart')
  const a = await build(t, { emulator, prefix, env: { REDIS_URL: redis.url, SPOOL_DIR: await spoolDir(t) } })
  const b = await build(t, { emulator, prefix, env: { REDIS_URL: proxyToB.url, RUN_WORKER: '0', SPOOL_DIR: await spoolDir(t) } })
  emulator.pushTo(a)
  const [userA, userB] = emulator.emulator.users
  if (userA === undefined || userB === undefined) throw new Error('two test users needed')

  const loginA = await createLogin(a)
  const loginB = await createLogin(b)
  const socketA = await openLoginSocket(a, loginA)
  const socketB = await openLoginSocket(b, loginB)
  t.equal((await socketA.next()).status, 'pending')
  t.equal((await socketB.next()).status, 'pending')

  await redis.stop('SIGKILL')
  await redis.start()
  // Each instance puts back the login its socket watches, after its subscriber reconnected.
  await waitForLogLine(a.logs, restored(loginA.scene), { timeoutMs: 10_000 })
  await waitForLogLine(b.logs, restored(loginB.scene), { timeoutMs: 10_000 })
  t.equal(socketA.ws.readyState, socketA.ws.OPEN, 'the socket on A stayed open')
  t.equal(socketB.ws.readyState, socketB.ws.OPEN, 'the socket on B stayed open')

  // B is cut off while B's login is confirmed (by A's worker) and the change is published.
  proxyToB.cut()
  await emulator.emulator.scan(loginB.ticket, userB.openid)
  await waitForLogLine(a.logs, (line) => line.msg === 'login confirmed' && line.login === loginLogKey(loginB.scene))
  proxyToB.restore()
  const onB = await waitForStatus(socketB, 'confirmed')
  t.notOk(onB.seen.some((status) => status.startsWith('error')), `B's page saw ${onB.seen.join(', ')}: the change it missed, read again after resubscribing`)
  t.equal((await exchange(b, onB.message.code ?? '')).body.openid, userB.openid)

  await emulator.emulator.scan(loginA.ticket, userA.openid)
  const onA = await waitForStatus(socketA, 'confirmed')
  t.equal((await exchange(a, onA.message.code ?? '')).body.openid, userA.openid, 'the QR shown before the restart still logs in')
  t.same([await readyz(a), await readyz(b)], [200, 200])
})

t.test('a login with no socket watching it is gone after a restart without persistence: its poll answers 404', async (t) => {
  const redis = await startRedisServer(t)
  const app = await build(t, { emulator: await startEmulator(t), env: { REDIS_URL: redis.url, SPOOL_DIR: await spoolDir(t) } })
  const login = await createLogin(app)
  await redis.stop('SIGKILL')
  await redis.start()
  const poll = async () => fetch(`${app.url}/api/login/status?scene=${login.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })
  let status = 0
  // The command connection may not be back yet (503): nothing announces its reconnect.
  await waitFor(async () => { status = (await poll()).status; return status !== 503 }, { timeoutMs: 10_000, intervalMs: 50, what: 'Redis to answer' })
  t.equal(status, 404, 'the page then shows "expired" and offers a new QR (README: How it holds up)')
})
