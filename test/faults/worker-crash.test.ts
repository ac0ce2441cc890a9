/**
 * A worker process killed with SIGKILL in the middle of a job (WeChat's user/info hangs under it):
 * another worker process runs the job again once its lock lapses, and the login is confirmed
 * exactly once. The time from the crash to the page's "confirmed" is printed, not asserted
 * (timing never decides a test); the configuration that bounds it is.
 */
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Queue, QueueEvents } from 'bullmq'
import t from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { WORKER_LOCK_DURATION_MS, WORKER_STALLED_INTERVAL_MS } from '../../src/drivers/redis/job-queue.js'
import { WECHAT_EVENTS_QUEUE } from '../../src/jobs/definitions.js'
import { TEST_WECHAT, build, createLogin, exchange, startEmulator } from '../helper.js'
import { cleanupKeys, redisUrl, uniquePrefix } from '../helpers/redis.js'
import { startService, type LogLine } from '../helpers/processes.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(120_000)

/** What the issue asks: a crashed worker's login completes within 10 s. */
const RECOVERY_BUDGET_MS = 10_000

t.test('the lock and the stalled check bring a crashed job back within the budget, by construction', async (t) => {
  // The lock lapses at most LOCK after the crash (it is renewed every LOCK/2), then a live
  // worker's stalled check, every STALLED, moves the job back: the rest is milliseconds.
  t.ok(WORKER_LOCK_DURATION_MS + WORKER_STALLED_INTERVAL_MS <= RECOVERY_BUDGET_MS - 1000,
    `${WORKER_LOCK_DURATION_MS} + ${WORKER_STALLED_INTERVAL_MS} ms leaves a second for the retry itself`)
})

t.test('SIGKILL a worker mid-job: another worker confirms the login, exactly once', async (t) => {
  const prefix = uniquePrefix('worker-crash')
  cleanupKeys(t, prefix)
  const emulator = await startEmulator(t)
  const web = await build(t, { emulator, prefix, env: { RUN_WORKER: '0' } })
  emulator.pushTo(web)
  const workerEnv = {
    ...TEST_WECHAT,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    WECHAT_API_BASE: emulator.url,
    WECHAT_MP_BASE: emulator.url,
    LOG_LEVEL: 'info'
  }
  const workers = await Promise.all([startService(t, 'worker', workerEnv), startService(t, 'worker', workerEnv)])

  const bull = { prefix: redisKeyspace(prefix).bullPrefix, connection: { url: redisUrl } }
  const events = new QueueEvents(WECHAT_EVENTS_QUEUE, bull)
  const queue = new Queue(WECHAT_EVENTS_QUEUE, bull)
  t.after(async () => { await events.close(); await queue.close() })
  await events.waitUntilReady()
  const activated = new Promise<string>((resolve) => events.once('active', ({ jobId }) => resolve(jobId)))

  const login = await createLogin(web)
  const socket = await openLoginSocket(web, login)
  t.equal((await socket.next()).status, 'pending')
  // The first user/info call never answers: the worker that makes it is inside the job when killed.
  emulator.emulator.faults.latency('user/info', 60_000, 1)
  const user = emulator.emulator.users[0]
  if (user === undefined) throw new Error('no test user')
  await emulator.emulator.scan(login.ticket, user.openid)

  const jobId = await activated
  await waitFor(() => emulator.emulator.counters.userInfoCalls === 1, { what: 'the worker to call user/info' })
  const processedBy = (await queue.getJob(jobId))?.processedBy
  const victim = workers.find((worker) => processedBy === `${hostname()}:${worker.pid}`)
  if (victim === undefined) throw new Error(`no worker process is ${String(processedBy)}`)
  const survivor = workers.find((worker) => worker !== victim)
  t.equal((await waitForStatus(socket, 'scanned')).message.status, 'scanned', 'the page shows "scanned"')

  await victim.stop('SIGKILL')
  const crashedAt = performance.now()
  const { message } = await waitForStatus(socket, 'confirmed')
  t.comment(`confirmed ${Math.round(performance.now() - crashedAt)} ms after the crash (budget ${RECOVERY_BUDGET_MS} ms)`)

  const redeemed = await exchange(web, message.code ?? '')
  t.same({ status: redeemed.status, openid: redeemed.body.openid }, { status: 200, openid: user.openid }, 'the code redeems, as the user who scanned')
  const confirmations = (survivor?.logs ?? []).filter((line: LogLine) => line.msg === 'login confirmed')
  t.same(confirmations.map((line) => line.outcome), ['changed'], 'the survivor confirmed it, once')
  const job = await queue.getJob(jobId)
  t.equal(job?.stalledCounter, 1, 'BullMQ saw the job stall once')
  t.equal(await job?.getState(), 'completed')
  t.equal(emulator.emulator.counters.userInfoCalls, 2, 'user/info: the hung call and the retry, nothing more')
})
