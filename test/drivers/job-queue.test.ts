import { randomBytes } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { JOB_RETRY_MAX_MS, PermanentJobError, type ScanJob } from '../../src/jobs/definitions.js'
import { captureLog, driverMatrix, type DriverCase } from './matrix.js'
import { deferred, waitFor } from '../helpers/wait.js'

function scanJob (): ScanJob {
  return { scene: randomBytes(24).toString('base64url'), openid: `o-${randomBytes(8).toString('hex')}`, event: 'SCAN', createTime: String(Date.now()) }
}

/** Each job's attempts, and a way to await the nth attempt of a job to have finished. */
function attemptLog () {
  const attempts = new Map<string, number[]>()
  const waiters: Array<{ openid: string, count: number, resolve: () => void }> = []
  return {
    attempts (openid: string): number[] {
      return attempts.get(openid) ?? []
    },
    /** Call when an attempt ended, successfully or not. */
    record (openid: string, attempt: number): void {
      const seen = [...(attempts.get(openid) ?? []), attempt]
      attempts.set(openid, seen)
      for (const waiter of waiters.filter((candidate) => candidate.openid === openid && candidate.count <= seen.length)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        // After the processor returned: the queue has then settled the attempt.
        setImmediate(waiter.resolve)
      }
    },
    until (openid: string, count: number): Promise<void> {
      if ((attempts.get(openid)?.length ?? 0) >= count) return Promise.resolve()
      return new Promise((resolve) => { waiters.push({ openid, count, resolve }) })
    }
  }
}

function jobQueueContract (t: Test, driver: DriverCase): void {
  t.test('jobs enqueued before the worker starts are processed once it starts', async (t) => {
    const { drivers } = await driver.create(t)
    const jobs = [scanJob(), scanJob(), scanJob()]
    for (const job of jobs) t.equal(await drivers.scanQueue.enqueue(job, job.openid), 'queued')
    const log = attemptLog()
    drivers.startScanWorker(async (job, attempt) => { log.record(job.openid, attempt) }, { concurrency: 2, log: captureLog() })
    await Promise.all(jobs.map((job) => log.until(job.openid, 1)))
    for (const job of jobs) t.strictSame(log.attempts(job.openid), [1])
  })

  t.test('one dedup key, one processing: also when the key comes back after completion', async (t) => {
    const { drivers } = await driver.create(t)
    const log = attemptLog()
    drivers.startScanWorker(async (job, attempt) => { log.record(job.openid, attempt) }, { concurrency: 4, log: captureLog() })
    const job = scanJob()
    const [first, second] = await Promise.all([drivers.scanQueue.enqueue(job, 'dedup-key'), drivers.scanQueue.enqueue(job, 'dedup-key')])
    t.strictSame([first, second].sort(), ['duplicate', 'queued'])
    await log.until(job.openid, 1)
    t.equal(await drivers.scanQueue.enqueue(job, 'dedup-key'), 'duplicate', 'a retry after completion is still recognised')

    // Processed in order after the duplicate would have been: had it been queued, it would show.
    const later = scanJob()
    t.equal(await drivers.scanQueue.enqueue(later, 'another-key'), 'queued')
    await log.until(later.openid, 1)
    t.strictSame(log.attempts(job.openid), [1])
  })

  t.test('a failed job is retried with the next attempt number, and each failure is logged', async (t) => {
    const { drivers } = await driver.create(t)
    const log = attemptLog()
    const workerLog = captureLog()
    drivers.startScanWorker(async (job, attempt) => {
      log.record(job.openid, attempt)
      if (attempt < 3) throw new Error(`transient failure ${attempt}`)
    }, { concurrency: 1, log: workerLog })
    const job = scanJob()
    await drivers.scanQueue.enqueue(job, job.openid)
    await log.until(job.openid, 3)
    t.strictSame(log.attempts(job.openid), [1, 2, 3])
    const failures = workerLog.entries.filter((entry) => entry.level === 'warn' || entry.level === 'error')
    t.equal(failures.length, 2)
    t.match(failures[0]?.args[0], { err: { message: 'transient failure 1' } })
  })

  t.test('counts(): jobs waiting, running, waiting for a retry and failed for good', async (t) => {
    const { drivers } = await driver.create(t)
    t.strictSame(await drivers.scanQueue.counts(), { waiting: 0, active: 0, delayed: 0, failed: 0 }, 'an empty queue')
    const [running, queued, doomed] = [scanJob(), scanJob(), scanJob()]
    for (const job of [running, queued]) await drivers.scanQueue.enqueue(job, job.openid)
    t.match(await drivers.scanQueue.counts(), { waiting: 2, active: 0 }, 'no worker yet: both wait')
    const log = attemptLog()
    const started = deferred()
    const release = deferred()
    drivers.startScanWorker(async (job, attempt) => {
      if (job.openid === doomed.openid) {
        log.record(job.openid, attempt)
        throw new PermanentJobError('the login is gone')
      }
      started.resolve()
      await release.promise
      log.record(job.openid, attempt)
    }, { concurrency: 1, log: captureLog() })
    await started.promise
    t.match(await drivers.scanQueue.counts(), { waiting: 1, active: 1 }, 'one runs, one waits (concurrency 1)')
    release.resolve()
    await Promise.all([log.until(running.openid, 1), log.until(queued.openid, 1)])
    await drivers.scanQueue.enqueue(doomed, doomed.openid)
    await log.until(doomed.openid, 1)
    await waitFor(async () => (await drivers.scanQueue.counts()).failed === 1, { what: 'the failure to be recorded' })
    t.strictSame(await drivers.scanQueue.counts(), { waiting: 0, active: 0, delayed: 0, failed: 1 })
  })

  t.test('a failure\'s log line carries the fields logFields gives for its job', async (t) => {
    const { drivers } = await driver.create(t)
    const log = attemptLog()
    const workerLog = captureLog()
    drivers.startScanWorker(async (job, attempt) => {
      log.record(job.openid, attempt)
      if (attempt === 1) throw new Error('transient')
    }, { concurrency: 1, log: workerLog, logFields: (job) => ({ reqId: job.reqId }) })
    const job = { ...scanJob(), reqId: 'req-from-the-webhook' }
    await drivers.scanQueue.enqueue(job, job.openid)
    await log.until(job.openid, 2)
    const failures = workerLog.entries.filter((entry) => entry.level === 'warn')
    t.match(failures[0]?.args[0], { reqId: 'req-from-the-webhook', err: { message: 'transient' } })
  })

  t.test('a job failing every time is retried, faster first, until its login must have expired, then no more', async (t) => {
    const loginTtlMs = 1000
    const { drivers } = await driver.create(t, { LOGIN_TTL_SECONDS: String(loginTtlMs / 1000) })
    const log = attemptLog()
    const workerLog = captureLog()
    const starts: number[] = []
    let queued = 0
    drivers.startScanWorker(async (job, attempt, queuedAt) => {
      starts.push(Date.now())
      queued = queuedAt ?? 0
      log.record(job.openid, attempt)
      throw new Error('always failing')
    }, { concurrency: 1, log: workerLog })
    const job = scanJob()
    await drivers.scanQueue.enqueue(job, job.openid)
    const gaveUp = () => workerLog.entries.some((entry) => (entry.args[0] as { retrying?: boolean }).retrying === false)
    await waitFor(gaveUp, { timeoutMs: loginTtlMs + 3 * JOB_RETRY_MAX_MS, what: 'the job to fail for good' })
    const attempts = log.attempts(job.openid)
    t.strictSame(attempts, Array.from({ length: attempts.length }, (_, i) => i + 1), 'attempts counted from 1, none skipped')
    t.ok(attempts.length >= 3, `retried (${attempts.length} attempts within the login's ${loginTtlMs} ms)`)
    const lastStart = starts.at(-1) ?? 0
    t.ok(lastStart >= queued + loginTtlMs && lastStart <= queued + loginTtlMs + JOB_RETRY_MAX_MS, 'the last attempt started after the deadline, by at most one wait')
    t.ok(starts.slice(0, -1).every((start) => start < queued + loginTtlMs), 'every earlier one before it')
    const failures = workerLog.entries.filter((entry) => entry.level === 'warn')
    t.equal(failures.length, attempts.length, 'each failure logged once')
    t.match(failures.at(-1)?.args[0], { retrying: false }, 'the last one says it was the last')
  })

  t.test('a PermanentJobError is not retried', async (t) => {
    const { drivers } = await driver.create(t)
    const log = attemptLog()
    const [permanent, transient] = [scanJob(), scanJob()]
    drivers.startScanWorker(async (job, attempt) => {
      log.record(job.openid, attempt)
      if (job.openid === permanent.openid) throw new PermanentJobError('the login is gone')
      if (attempt === 1) throw new Error('transient')
    }, { concurrency: 1, log: captureLog() })
    await drivers.scanQueue.enqueue(permanent, permanent.openid)
    await drivers.scanQueue.enqueue(transient, transient.openid)
    // The transient job's retry falls due after any retry of the permanent one would have.
    await log.until(transient.openid, 2)
    t.strictSame(log.attempts(transient.openid), [1, 2])
    t.strictSame(log.attempts(permanent.openid), [1])
  })

  t.test('the worker runs at most `concurrency` jobs at once', async (t) => {
    const { drivers } = await driver.create(t)
    const concurrency = 3
    const total = 9
    let active = 0
    let maxActive = 0
    let finished = 0
    const full = deferred()
    const gate = deferred()
    const allDone = deferred()
    drivers.startScanWorker(async () => {
      active++
      maxActive = Math.max(maxActive, active)
      if (active === concurrency) full.resolve()
      await gate.promise
      active--
      if (++finished === total) allDone.resolve()
    }, { concurrency, log: captureLog() })
    for (let i = 0; i < total; i++) {
      const job = scanJob()
      await drivers.scanQueue.enqueue(job, job.openid)
    }
    await full.promise
    // Give a worker that ignores its bound the turns (and a Redis round trip) to start a fourth job.
    await nextTurn()
    await drivers.healthy()
    await nextTurn()
    t.equal(active, concurrency)
    gate.resolve()
    await allDone.promise
    t.equal(maxActive, concurrency)
  })

  t.test('close() waits for the running job, then the worker takes nothing more; no job is lost', async (t) => {
    const { drivers } = await driver.create(t)
    const log = attemptLog()
    const started = deferred()
    const release = deferred()
    const seenByFirst: string[] = []
    let finishedInFirst = 0
    const first = drivers.startScanWorker(async (job, attempt) => {
      seenByFirst.push(job.openid)
      started.resolve()
      await release.promise
      finishedInFirst++
      log.record(job.openid, attempt)
    }, { concurrency: 4, log: captureLog() })

    const running = scanJob()
    await drivers.scanQueue.enqueue(running, running.openid)
    await started.promise
    let closed = false
    const closing = first.close().then(() => { closed = true })
    // BullMQ may still hand this one to the closing worker (its fetch was under way): either worker may run it, once.
    const duringClose = scanJob()
    await drivers.scanQueue.enqueue(duringClose, duringClose.openid)
    await nextTurn()
    await drivers.healthy()
    t.equal(closed, false, 'close() waits for the running job')
    release.resolve()
    await closing
    t.equal(finishedInFirst, seenByFirst.length, 'every job the worker started had finished when close() resolved')
    await first.close()

    const afterClose = scanJob()
    await drivers.scanQueue.enqueue(afterClose, afterClose.openid)
    drivers.startScanWorker(async (job, attempt) => { log.record(job.openid, attempt) }, { concurrency: 1, log: captureLog() })
    await Promise.all([log.until(afterClose.openid, 1), log.until(duringClose.openid, 1)])
    t.notOk(seenByFirst.includes(afterClose.openid), 'the closed worker took no new job')
    t.strictSame(log.attempts(running.openid), [1], 'the job running during close() ran once')
    t.strictSame(log.attempts(duringClose.openid), [1], 'the job enqueued during close() ran once')
    t.strictSame(log.attempts(afterClose.openid), [1])
  })
}

for (const driver of driverMatrix('job-queue')) {
  t.test(`JobQueue contract: ${driver.name}`, async (t) => jobQueueContract(t, driver))
}
