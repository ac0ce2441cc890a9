/**
 * Redis unreachable when WeChat pushes a scan. WeChat sends a push again only when it got no answer
 * within 5 s (the emulator gives up at 5 s like WeChat), and an error status loses the scan: the
 * webhook answers `success` only once the scan is kept, in Redis or in the spool on disk.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { PushFailed } from '../../src/emulator/push.js'
import { scanDedupKey } from '../../src/jobs/definitions.js'
import { WEBHOOK_HOLD_MS, parseSpooledScan } from '../../src/jobs/scan-intake.js'
import { openFileSpool } from '../../src/jobs/spool.js'
import { build, createLogin, exchange, startEmulator, type TestApp } from '../helper.js'
import { cleanupKeys, startRedisProxy, uniquePrefix } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { waitFor, waitForLogLine, type LoggedLine } from '../helpers/wait.js'

t.setTimeout(150_000)

async function spoolDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wql-fault-spool-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function spooledLines (dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.spool'))
  const texts = await Promise.all(names.map((name) => readFile(join(dir, name), 'utf8')))
  return texts.join('').split('\n').filter((line) => line !== '')
}

async function readiness (app: TestApp): Promise<number> {
  return (await fetch(`${app.url}/readyz`)).status
}

const scanReceived = (line: LoggedLine) => line.msg === 'scan event received'
const webhookArrived = (line: LoggedLine) => line.msg === 'incoming request' && String((line.req as { url?: string } | undefined)?.url).startsWith('/wechat/webhook')

t.test('Redis away for less than the hold: the push waits for it, is queued, and nothing is spooled', async (t) => {
  const proxy = await startRedisProxy(t)
  const emulator = await startEmulator(t)
  const spool = await spoolDir(t)
  const app = await build(t, { emulator, env: { REDIS_URL: proxy.url, SPOOL_DIR: spool } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, login)
  t.equal((await socket.next()).status, 'pending')

  proxy.cut()
  t.equal(await readiness(app), 503, 'not ready while Redis is away')
  const started = performance.now()
  const pushed = emulator.emulator.scan(login.ticket, emulator.emulator.users[0]?.openid ?? '')
  await waitForLogLine(app.logs, webhookArrived)
  proxy.restore()
  const answer = await pushed
  t.same({ status: answer.status, body: answer.body }, { status: 200, body: 'success' }, 'answered success, within WeChat\'s deadline')
  t.comment(`held ${Math.round(performance.now() - started)} ms`)
  t.match(await waitForLogLine(app.logs, scanReceived), { outcome: 'queued' }, 'queued once Redis answered')

  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal((await exchange(app, message.code ?? '')).status, 200, 'the visitor is logged in')
  t.same(await spooledLines(spool), [], 'nothing went to disk')
})

t.test('Redis killed: the push is spooled and answered in time; Redis restarts empty: the open page is logged in without a second scan', async (t) => {
  const redis = await startRedisServer(t)
  const emulator = await startEmulator(t)
  const spool = await spoolDir(t)
  const app = await build(t, { emulator, env: { REDIS_URL: redis.url, SPOOL_DIR: spool } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, login)
  t.equal((await socket.next()).status, 'pending')
  const user = emulator.emulator.users[1]
  if (user === undefined) throw new Error('no test user')

  await redis.stop('SIGKILL')
  t.equal(await readiness(app), 503, 'not ready while Redis is down')
  const started = performance.now()
  const answer = await emulator.emulator.scan(login.ticket, user.openid)
  const answeredMs = Math.round(performance.now() - started)
  t.same({ status: answer.status, body: answer.body }, { status: 200, body: 'success' }, 'success before WeChat\'s 5 s (the emulator waits no longer)')
  t.comment(`answered after ${answeredMs} ms (hold ${WEBHOOK_HOLD_MS} ms, then the spool's fsync)`)
  t.match(await waitForLogLine(app.logs, scanReceived), { outcome: 'spooled' })
  const lines = await spooledLines(spool)
  t.equal(lines.length, 1, 'one event on disk')
  t.match(JSON.parse(lines[0] ?? '{}'), { scan: { scene: login.scene, openid: user.openid } })

  // WeChat's retry of the same push, had the answer been late: spooled again, one job in the end.
  const retried = await emulator.emulator.replay(answer)
  t.equal(retried.status, 200)
  t.equal(socket.ws.readyState, socket.ws.OPEN, 'the page\'s socket stayed open through the outage')

  await redis.start()
  const { message, seen } = await waitForStatus(socket, 'confirmed')
  t.notOk(seen.some((status) => status.startsWith('error')), `the page saw ${seen.join(', ')}`)
  const redeemed = await exchange(app, message.code ?? '')
  t.same({ status: redeemed.status, openid: redeemed.body.openid }, { status: 200, openid: user.openid }, 'logged in as the user who scanned during the outage')
  await waitForLogLine(app.logs, (line) => line.msg === 'login lost by the store (Redis restarted without its data): put back as pending')
  await waitFor(async () => (await spooledLines(spool)).length === 0, { what: 'the spool to empty' })
  const replays = app.logs.map((text) => JSON.parse(text) as LoggedLine).filter((line) => line.msg === 'spooled scan queued')
  t.same(replays.map((line) => line.outcome), ['queued', 'duplicate'], 'replayed in order, the retry deduplicated')
  t.equal(await readiness(app), 200, 'ready again')
})

t.test('a push that is not a scan is acknowledged at once while Redis is away: nothing to keep', async (t) => {
  const proxy = await startRedisProxy(t)
  const emulator = await startEmulator(t)
  // No worker: BullMQ's own connections, closed while still reconnecting, would keep the test alive.
  const app = await build(t, { emulator, env: { REDIS_URL: proxy.url, RUN_WORKER: '0', SPOOL_DIR: await spoolDir(t) } })
  proxy.cut()
  const started = performance.now()
  const answer = await emulator.emulator.pushEvent({ ToUserName: 'gh_test', FromUserName: 'oSomeone', MsgType: 'text', Content: 'hello', MsgId: 1n })
  t.same({ status: answer.status, body: answer.body }, { status: 200, body: 'success' })
  t.comment(`answered after ${Math.round(performance.now() - started)} ms`)
  await waitForLogLine(app.logs, (line) => line.msg === 'webhook push ignored')
  proxy.restore()
})

t.test('Redis away and the spool refuses (a full disk): no answer, so WeChat sends the push again, and its retry is kept', async (t) => {
  const proxy = await startRedisProxy(t)
  const emulator = await startEmulator(t)
  const parent = await spoolDir(t)
  const spool = join(parent, 'spool')
  const app = await build(t, { emulator, env: { REDIS_URL: proxy.url, SPOOL_DIR: spool } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, login)
  t.equal((await socket.next()).status, 'pending')
  // Where the spool would write is now a file: every write fails.
  await rm(spool, { recursive: true })
  await writeFile(spool, '')

  proxy.cut()
  const failed = await emulator.emulator.scan(login.ticket, emulator.emulator.users[0]?.openid ?? '').then(() => null, (error: unknown) => error)
  if (!(failed instanceof PushFailed)) throw new Error(`the push was answered: ${String(failed)}`)
  t.match(failed.message, /no answer within 5000 ms/, 'WeChat got no answer: it will send the push again')
  await waitForLogLine(app.logs, (line) => line.msg === 'Redis unreachable and the spool refused the event: left unanswered so that WeChat sends it again')

  proxy.restore()
  const retried = await emulator.emulator.replay(failed.push)
  t.same({ status: retried.status, body: retried.body }, { status: 200, body: 'success' }, "WeChat's retry, once Redis is back, is queued")
  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal((await exchange(app, message.code ?? '')).status, 200)
})

t.test('scans a previous process spooled are replayed when the next one starts on the same SPOOL_DIR', async (t) => {
  const emulator = await startEmulator(t)
  const prefix = uniquePrefix('spool-boot')
  cleanupKeys(t, prefix)
  const first = await build(t, { emulator, prefix, env: { RUN_WORKER: '0' } })
  const login = await createLogin(first)
  const socket = await openLoginSocket(first, login)
  t.equal((await socket.next()).status, 'pending')
  const user = emulator.emulator.users[0]
  if (user === undefined) throw new Error('no test user')

  // What a process that died during an outage leaves behind: one spooled scan.
  const dir = await spoolDir(t)
  const leftover = await openFileSpool({ dir, parse: parseSpooledScan })
  const scan = { scene: login.scene, openid: user.openid, event: 'SCAN' as const, createTime: String(Math.floor(Date.now() / 1000)) }
  await leftover.append({ scan, dedupKey: scanDedupKey(scan), signature: 'left-by-a-dead-process', fingerprint: 'f', receivedAt: Date.now() })
  await leftover.close()

  const next = await build(t, { emulator, prefix, env: { SPOOL_DIR: dir } })
  await waitForLogLine(next.logs, (line) => line.msg === 'spool replayed' && line.delivered === 1)
  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal((await exchange(next, message.code ?? '')).body.openid, user.openid, 'the scan counted: no second scan')
  t.same(await spooledLines(dir), [], 'and left the disk')
})

t.test('a SPOOL_DIR that cannot be created stops the boot, not the first outage', async (t) => {
  const parent = await spoolDir(t)
  await writeFile(join(parent, 'a-file'), '')
  await t.rejects(build(t, { env: { SPOOL_DIR: join(parent, 'a-file', 'spool') } }), { code: 'ENOTDIR' })
})
