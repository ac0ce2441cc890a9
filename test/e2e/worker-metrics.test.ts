/**
 * A worker-only process (`npm run worker`, a real child process) beside a web-only instance on one
 * Redis: the worker serves its own /metrics on METRICS_PORT (behind METRICS_TOKEN), counting what it
 * did; the web instance counts what it did; and the worker's log lines carry the webhook's request id.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { loginLogKey } from '../../src/login/log-key.js'
import { TEST_WECHAT, build, createLogin, exchange, freePort, startEmulator } from '../helper.js'
import { scrape } from '../helpers/metrics.js'
import { cleanupKeys, redisUrl, uniquePrefix } from '../helpers/redis.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

const workerEntry = join(import.meta.dirname, '..', '..', 'src', 'worker.js')
const METRICS_TOKEN = 'worker-metrics-token-0123456789'

type LogLine = Record<string, unknown> & { msg?: string }

t.test('a worker process serves its metrics on METRICS_PORT; its log lines carry the webhook\'s request id', async (t) => {
  const prefix = uniquePrefix('worker-metrics')
  cleanupKeys(t, prefix)
  const emulator = await startEmulator(t)
  const web = await build(t, { emulator, prefix, env: { RUN_WORKER: '0' } })
  emulator.pushTo(web)

  const metricsPort = await freePort()
  const worker = spawn(process.execPath, [workerEntry], {
    env: {
      PATH: process.env.PATH,
      ...TEST_WECHAT,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      WECHAT_API_BASE: emulator.url,
      HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      METRICS_TOKEN,
      LOG_LEVEL: 'info'
    },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = once(worker, 'exit')
  t.after(async () => {
    if (worker.exitCode === null) {
      worker.kill('SIGTERM')
      await exited
    }
  })
  const lines: LogLine[] = []
  const waiters: Array<{ msg: string, resolve: () => void }> = []
  let buffered = ''
  worker.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    const complete = buffered.split('\n')
    buffered = complete.pop() ?? ''
    for (const text of complete.filter((line) => line !== '')) {
      const line = JSON.parse(text) as LogLine
      lines.push(line)
      for (const waiter of waiters.filter((candidate) => candidate.msg === line.msg)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  })
  const logged = (msg: string) => lines.some((line) => line.msg === msg)
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
      waiters.push({ msg, resolve })
      exited.then(([code]) => reject(new Error(`the worker exited (${String(code)}) before logging "${msg}"`)), reject)
    })
  await logged('worker started')
  const workerUrl = { url: `http://127.0.0.1:${metricsPort}` }

  t.equal((await scrape(workerUrl)).status, 401, 'METRICS_TOKEN guards the worker\'s metrics too')
  t.equal((await fetch(`${workerUrl.url}/api/login/qr`, { method: 'POST' })).status, 404, 'and /metrics is all it serves')

  const login = await createLogin(web)
  const socket = await openLoginSocket(web, { scene: login.scene, secret: login.secret })
  await socket.next()
  await emulator.emulator.scan(login.ticket, emulator.emulator.users.find((user) => user.following)!.openid)
  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal((await exchange(web, message.code ?? '')).status, 200, 'the worker process confirmed the login')
  await logged('login confirmed')

  const fromWorker = await scrape(workerUrl, METRICS_TOKEN)
  t.equal(fromWorker.status, 200)
  t.equal(fromWorker.value('wql_logins_total', { status: 'confirmed' }), 1, 'the worker counts the confirmation')
  t.equal(fromWorker.value('wql_job_duration_seconds_count', { outcome: 'completed' }), 1, 'and times the job')
  t.equal(fromWorker.value('wql_wechat_calls_total', { api: 'user/info', errcode: '0' }), 1, 'and its WeChat call')
  t.equal(fromWorker.value('wql_queue_jobs', { state: 'waiting' }), 0, 'and reads the queue')

  const fromWeb = await scrape(web)
  t.equal(fromWeb.value('wql_logins_total', { status: 'confirmed' }), 0, 'the web instance confirmed nothing')
  t.equal(fromWeb.value('wql_webhook_requests_total', { outcome: 'queued' }), 1, 'it queued the scan')
  t.equal(fromWeb.value('wql_scan_to_push_seconds_count', { status: 'confirmed' }), 1, 'and timed the push, from the webhook to its socket')

  const received = web.logs.map((line) => JSON.parse(line) as LogLine).find((line) => line.msg === 'scan event received')
  t.type(received?.reqId, 'string')
  for (const msg of ['login scanned', 'login confirmed']) {
    const line = lines.find((candidate) => candidate.msg === msg)
    t.match(line, { login: loginLogKey(login.scene), reqId: received?.reqId }, `the worker's "${msg}" names the login and the webhook's request`)
  }
})
