import type { Log } from '../../log.js'
import {
  DEDUP_TTL_MS, JOB_DRAIN_DEADLINE_MS, PermanentJobError,
  type JobProcessor, type JobQueue, type JobWorker, type RetryPolicy, type WorkerOptions
} from '../../jobs/definitions.js'
import { createTtlMap } from '../../util/ttl-map.js'

export interface MemoryWorkerOptions<T> extends WorkerOptions<T> {
  /** How long close() waits for running jobs before giving up on them. */
  closeTimeoutMs?: number
}

export interface MemoryJobQueue<T> extends JobQueue<T> {
  startWorker (processor: JobProcessor<T>, options: MemoryWorkerOptions<T>): JobWorker
}

interface QueuedJob<T> {
  id: number
  data: T
  attemptsMade: number
  queuedAt: number
}

interface WorkerSlot<T> {
  processor: JobProcessor<T>
  concurrency: number
  log: Log
  logFields: ((job: T) => Record<string, unknown>) | undefined
  running: Set<Promise<void>>
  closing: boolean
}

/**
 * The BullMQ queue's contract in one process. Event-driven: a job is handed to a worker when it is
 * added, when a worker starts, when a worker slot frees up and when a retry falls due; there is no
 * polling. Jobs only live as long as the process, which is what embedded mode means.
 */
export function createMemoryJobQueue<T> ({ retry, clock = Date.now, dedupTtlMs = DEDUP_TTL_MS }: { retry: RetryPolicy, clock?: () => number, dedupTtlMs?: number }): MemoryJobQueue<T> {
  const waiting: Array<QueuedJob<T>> = []
  const retryTimers = new Set<NodeJS.Timeout>()
  // Every key lives dedupTtlMs, so each new key trims the expired ones: no timer to stop.
  const dedupKeys = createTtlMap<string, true>({ clock })
  const workers = new Set<WorkerSlot<T>>()
  /** Jobs that ran out of attempts since the process started (nothing removes them, unlike BullMQ's removeOnFail). */
  let failed = 0
  let nextId = 1
  let closed = false

  function dispatch (): void {
    while (waiting.length > 0) {
      let free: WorkerSlot<T> | undefined
      for (const worker of workers) {
        if (worker.running.size < worker.concurrency) { free = worker; break }
      }
      if (free === undefined) return
      run(free, waiting.shift() as QueuedJob<T>)
    }
  }

  function run (worker: WorkerSlot<T>, job: QueuedJob<T>): void {
    const attempt = job.attemptsMade + 1
    const startedAt = clock()
    // A microtask later: the producer's enqueue() never runs processor code re-entrantly.
    const running: Promise<void> = Promise.resolve()
      .then(() => worker.processor(job.data, attempt, job.queuedAt))
      .catch((error: unknown) => {
        job.attemptsMade = attempt
        const delay = error instanceof PermanentJobError || attempt >= retry.attempts ? null : retry.delayMs(attempt, job.queuedAt, startedAt)
        worker.log.warn({ jobId: String(job.id), ...worker.logFields?.(job.data), attempts: attempt, retrying: delay !== null, err: error }, 'job failed')
        if (delay !== null) retryLater(job, delay)
        else failed++
      })
      .finally(() => {
        worker.running.delete(running)
        dispatch()
      })
    worker.running.add(running)
  }

  function retryLater (job: QueuedJob<T>, delayMs: number): void {
    if (closed) return
    const timer = setTimeout(() => {
      retryTimers.delete(timer)
      waiting.push(job)
      dispatch()
    }, delayMs)
    retryTimers.add(timer)
  }

  return {
    async enqueue (data, dedupKey) {
      if (closed) throw new Error('job queue is closed')
      if (dedupKeys.has(dedupKey)) return 'duplicate'
      dedupKeys.set(dedupKey, true, dedupTtlMs)
      // A copy, as BullMQ stores JSON: changing the object after enqueue() does not change the job.
      waiting.push({ id: nextId++, data: JSON.parse(JSON.stringify(data)) as T, attemptsMade: 0, queuedAt: clock() })
      dispatch()
      return 'queued'
    },

    async counts () {
      let active = 0
      for (const worker of workers) active += worker.running.size
      return { waiting: waiting.length, active, delayed: retryTimers.size, failed }
    },

    // One process: no lock to lose, so nothing ever stalls (onStalled is never called).
    startWorker (processor, { concurrency, log, logFields, closeTimeoutMs = JOB_DRAIN_DEADLINE_MS }) {
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer')
      const worker: WorkerSlot<T> = { processor, concurrency, log, logFields, running: new Set(), closing: false }
      workers.add(worker)
      // Jobs added before this worker existed wait for it.
      queueMicrotask(dispatch)
      let closing: Promise<void> | null = null

      return {
        close () {
          closing ??= (async () => {
            workers.delete(worker)
            if (worker.running.size === 0) return
            let timer: NodeJS.Timeout | undefined
            const gaveUp = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), closeTimeoutMs) })
            const finished = Promise.allSettled([...worker.running]).then(() => false)
            const timedOut = await Promise.race([finished, gaveUp])
            clearTimeout(timer)
            if (timedOut) log.warn({ jobs: worker.running.size }, 'job worker closed with jobs still running')
          })()
          return closing
        }
      }
    },

    async close () {
      // Waiting and delayed jobs go with the process; the timers must not keep it alive.
      closed = true
      for (const timer of retryTimers) clearTimeout(timer)
      retryTimers.clear()
    }
  }
}
