/**
 * WeChat failing (timeouts, `-1`) while a visitor waits on "scanned". The WeChat client retries
 * within WECHAT_RETRY_DEADLINE_MS; the job then retries with backoff for as long as the login
 * lives (jobs/definitions.ts: scanRetryPolicy). Scaled down: a 4 s outage against a 0.6 s client
 * deadline exercises the job's retries as a 30 s one does against the default 10 s.
 */
import { Queue } from 'bullmq'
import t from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { WECHAT_EVENTS_QUEUE } from '../../src/jobs/definitions.js'
import { build, createLogin, exchange, startEmulator, type TestApp } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { waitForLogLine, type LoggedLine } from '../helpers/wait.js'
import { loginLogKey } from '../../src/login/log-key.js'

t.setTimeout(120_000)

const FAST_FAILING_WECHAT = { WECHAT_TIMEOUT_MS: '300', WECHAT_RETRY_DEADLINE_MS: '600' }

function jobFailures (app: TestApp): LoggedLine[] {
  return app.logs.map((text) => JSON.parse(text) as LoggedLine).filter((line) => line.msg === 'job failed')
}

t.test('WeChat times out, then answers -1, for longer than the client retries: the job retries and the login completes', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator, env: { ...FAST_FAILING_WECHAT, LOGIN_TTL_SECONDS: '30' } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, login)
  t.equal((await socket.next()).status, 'pending')

  // Every user/info call for 4 s is slower than WECHAT_TIMEOUT_MS; and the 8 calls after that
  // window (or during it) answer -1, "system busy".
  emulator.emulator.faults.inject({ api: 'user/info', latencyMs: 1000, durationMs: 4000 })
  emulator.emulator.faults.errcode('user/info', -1, 8)
  const user = emulator.emulator.users[0]
  if (user === undefined) throw new Error('no test user')
  await emulator.emulator.scan(login.ticket, user.openid)

  const { message, seen } = await waitForStatus(socket, 'confirmed')
  t.same(seen, ['scanned', 'confirmed'], 'the page went from "scanned" to "confirmed", nothing in between')
  t.equal((await exchange(app, message.code ?? '')).body.openid, user.openid)
  const failures = jobFailures(app)
  t.ok(failures.length >= 1, `the job itself was retried (${failures.length} failed attempts, ${emulator.emulator.counters.userInfoCalls} user/info calls)`)
  t.ok(failures.every((line) => line.retrying === true), 'and never given up')
})

t.test('WeChat down past the login\'s TTL: the page turns "expired", never stays "scanned", and the job ends', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator, env: { ...FAST_FAILING_WECHAT, LOGIN_TTL_SECONDS: '3' } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, login)
  t.equal((await socket.next()).status, 'pending')
  emulator.emulator.faults.down('user/info')
  t.after(() => emulator.emulator.faults.clear())
  const user = emulator.emulator.users[0]
  if (user === undefined) throw new Error('no test user')
  await emulator.emulator.scan(login.ticket, user.openid)

  const { seen } = await waitForStatus(socket, 'expired')
  t.same(seen, ['scanned', 'expired'], 'expired at its TTL')
  t.equal(await socket.closed, 1000, 'a final status: the socket closes normally')
  const ended = await waitForLogLine(app.logs, (line) => line.msg === 'scan ignored' && line.login === loginLogKey(login.scene), { timeoutMs: 15_000 })
  t.equal(ended.outcome, 'expired', 'the first attempt after the TTL found the login expired and ended the job')

  const queue = new Queue(WECHAT_EVENTS_QUEUE, { prefix: redisKeyspace(app.config.REDIS_PREFIX).bullPrefix, connection: { url: redisUrl } })
  t.after(() => queue.close())
  t.same(await queue.getJobCounts('waiting', 'active', 'delayed', 'failed'), { waiting: 0, active: 0, delayed: 0, failed: 0 }, 'no job left retrying')
})
