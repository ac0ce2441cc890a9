import { setImmediate as nextTurn } from 'node:timers/promises'
import t from 'tap'
import { DEDUP_TTL_MS, scanRetryPolicy, type ScanJob } from '../../src/jobs/definitions.js'
import { createMemoryJobQueue } from '../../src/drivers/memory/job-queue.js'
import { createMemoryLoginBus } from '../../src/drivers/memory/login-bus.js'
import { createMemoryLoginStore } from '../../src/drivers/memory/login-store.js'
import { newLoginCode } from '../../src/login/tokens.js'
import { captureLog } from './matrix.js'
import { deferred } from '../helpers/wait.js'

// What only the in-process drivers can show quickly: their clock is injectable, Redis' is not.

const job = (openid: string): ScanJob => ({ scene: 'scene', openid, event: 'SCAN', createTime: '1700000000' })
const retry = scanRetryPolicy(60_000)

t.test('a dedup key is forgotten DEDUP_TTL_MS after it was added', async (t) => {
  let now = 1_000_000
  const queue = createMemoryJobQueue<ScanJob>({ retry, clock: () => now })
  t.after(() => queue.close())
  t.equal(await queue.enqueue(job('a'), 'key'), 'queued')
  now += DEDUP_TTL_MS - 1
  t.equal(await queue.enqueue(job('a'), 'key'), 'duplicate')
  now += 1
  t.equal(await queue.enqueue(job('a'), 'key'), 'queued')
})

t.test('a job is a copy of what was enqueued', async (t) => {
  const queue = createMemoryJobQueue<ScanJob>({ retry })
  t.after(() => queue.close())
  const data = job('original')
  await queue.enqueue(data, 'key')
  data.openid = 'changed'
  const seen = deferred<string>()
  const worker = queue.startWorker(async (received) => { seen.resolve(received.openid) }, { concurrency: 1, log: captureLog() })
  t.after(() => worker.close())
  t.equal(await seen.promise, 'original')
})

t.test('worker close() gives up on a job that never ends, and says so', async (t) => {
  const queue = createMemoryJobQueue<ScanJob>({ retry })
  t.after(() => queue.close())
  const log = captureLog()
  const started = deferred()
  const worker = queue.startWorker(async () => {
    started.resolve()
    await new Promise(() => {})
  }, { concurrency: 1, log, closeTimeoutMs: 50 })
  await queue.enqueue(job('stuck'), 'stuck')
  await started.promise
  await worker.close()
  t.match(log.entries, [{ level: 'warn', args: [{ jobs: 1 }] }])
})

t.test('enqueue after close() is refused', async (t) => {
  const queue = createMemoryJobQueue<ScanJob>({ retry })
  await queue.close()
  await t.rejects(queue.enqueue(job('late'), 'late'))
})

t.test('a listener removed between publish and delivery is not called', async (t) => {
  const bus = createMemoryLoginBus()
  let calls = 0
  const unsubscribe = await bus.subscribe('scene', () => { calls++ })
  const published = bus.publish('scene')
  await unsubscribe()
  await published
  await nextTurn()
  t.equal(calls, 0)
})

t.test('store entries vanish at retention end by the store clock', async (t) => {
  let now = 1_000_000
  const store = createMemoryLoginStore({ clock: () => now })
  t.after(() => store.close())
  await store.create({ scene: 's', secretHash: 'h', status: 'pending', createdAt: now, expiresAt: now + 1000 }, 500)
  t.equal(await store.markScanned('s', now, 'o'), 'changed')
  const code = newLoginCode('s')
  t.equal(await store.confirm('s', { openid: 'o', unionid: null, scene: 's', subscribed: true, confirmedAt: now }, code, 200, now), 'changed')
  now += 199
  t.equal(await store.markScanned('s', now, 'o'), 'already_confirmed')
  now += 1
  t.equal(await store.redeemCode(code), null, 'the code is gone at its TTL')
  now += 1299
  t.not(await store.get('s'), null)
  now += 1
  t.equal(await store.get('s'), null, 'the record is gone at expiresAt + retainMs')
})
