import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq'
import type { Log } from '../../log.js'
import { settlesWithin } from '../../util/deadline.js'
import { closeConnection, type RedisClient } from './connections.js'
import {
  DEDUP_TTL_MS, JOB_DRAIN_DEADLINE_MS, PermanentJobError,
  type JobProcessor, type JobQueue, type JobWorker, type RetryPolicy, type WorkerOptions
} from '../../jobs/definitions.js'

/**
 * A person waits on "scanned" while a job runs, so a crashed worker's job must come back within
 * seconds, not BullMQ's default minute (30 s lock, then a stalled check every 30 s). A lock lapses
 * LOCK_DURATION after its last renewal (renewed every half of it while the job runs); a live
 * worker's stalled check finds the job within STALLED_INTERVAL after that: back in the queue at
 * most 8 s after the crash. The price, per worker process: one stalled-check script every 3 s
 * (BullMQ's default: every 30 s) and one lock renewal every 2.5 s per running job (README: How it
 * holds up). A job that runs twice is harmless: every transition is a compare-and-set.
 */
export const WORKER_LOCK_DURATION_MS = 5000
export const WORKER_STALLED_INTERVAL_MS = 3000
/** A job stalled by more crashes than this fails: a job that kills its worker every time. */
export const WORKER_MAX_STALLED_COUNT = 3

export interface BullOptions {
  /** BullMQ's own key prefix (RedisKeyspace.bullPrefix). */
  prefix: string
  connection: ConnectionOptions
}

/** The name of the custom backoff both sides of the queue know: the worker computes it from `RetryPolicy`. */
const RETRY_BACKOFF = 'login-lifetime'

export function createBullQueue<T> (queueName: string, jobName: string, { prefix, connection, log, retry, dedupTtlMs = DEDUP_TTL_MS }: BullOptions & { log: Log, retry: RetryPolicy, dedupTtlMs?: number }): JobQueue<T> & { queue: Queue } {
  const queue = new Queue(queueName, {
    prefix,
    connection,
    defaultJobOptions: {
      attempts: retry.attempts,
      backoff: { type: RETRY_BACKOFF },
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 24 * 3600, count: 5000 }
    }
  })
  // Without a listener BullMQ prints its errors to the console, outside our structured log.
  queue.on('error', (error) => log.warn({ err: error }, 'job queue error'))

  return {
    queue,
    async enqueue (data, dedupKey) {
      // A fresh id per call: BullMQ answers a deduplicated add with the first job's id, which tells us apart.
      const jobId = randomUUID()
      const job = await queue.add(jobName as never, data as never, { jobId, deduplication: { id: dedupKey, ttl: dedupTtlMs } })
      return job.id === jobId ? 'queued' : 'duplicate'
    },
    async counts () {
      const { waiting = 0, prioritized = 0, active = 0, delayed = 0, failed = 0 } = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')
      return { waiting: waiting + prioritized, active, delayed, failed }
    },
    async close () {
      await queue.close()
    }
  }
}

export function startBullWorker<T> (queueName: string, processor: JobProcessor<T>, { prefix, connection, concurrency, log, logFields, onStalled, retry }: BullOptions & { connection: RedisClient } & WorkerOptions<T> & { retry: RetryPolicy }): JobWorker {
  const duplicates = keepDuplicates(connection)
  const worker = new Worker<T>(queueName, async (job) => {
    try {
      await processor(job.data, job.attemptsMade + 1, job.timestamp)
    } catch (error) {
      if (error instanceof PermanentJobError) throw new UnrecoverableError(error.message)
      throw error
    }
  }, {
    prefix,
    connection,
    concurrency,
    // Shown as the job's processedBy: which process ran (or crashed on) a job.
    name: `${hostname()}:${process.pid}`,
    lockDuration: WORKER_LOCK_DURATION_MS,
    stalledInterval: WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: WORKER_MAX_STALLED_COUNT,
    settings: {
      // -1: BullMQ's "no more retries".
      backoffStrategy: (attemptsMade, _type, _error, job) => retry.delayMs(attemptsMade, job?.timestamp ?? 0, job?.processedOn ?? Date.now()) ?? -1
    }
  })

  worker.on('error', (error) => log.error({ err: error }, 'job worker error'))
  worker.on('failed', (job, error) => {
    // BullMQ sets finishedOn only when the job failed for good (no retry left, or a permanent failure).
    log.warn({ jobId: job?.id, ...(job === undefined ? {} : logFields?.(job.data)), attempts: job?.attemptsMade, retrying: job?.finishedOn === undefined, err: error }, 'job failed')
  })
  worker.on('stalled', (jobId) => {
    log.warn({ jobId }, 'job stalled: its worker stopped renewing the lock; it runs again')
    onStalled?.()
  })

  let closing: Promise<void> | null = null
  return {
    close () {
      closing ??= (async () => {
        for (const duplicate of duplicates) refuseToConnect(duplicate)
        const closed = await settlesWithin(worker.close(), JOB_DRAIN_DEADLINE_MS)
        await Promise.all(duplicates.map(closeConnection))
        if (closed) return
        // The process exits after close (close-with-grace), taking the worker's own reconnecting connection with it.
        log.warn({ deadlineMs: JOB_DRAIN_DEADLINE_MS }, 'worker not closed by the shutdown deadline (a job still running, or Redis away): another worker runs its jobs again once their locks lapse')
      })()
      return closing
    }
  }
}

/**
 * The connections BullMQ duplicates from the worker's. It owns its blocking duplicate and closes
 * it itself, but on a cluster its own close reconnects it: the close interrupts the blocking
 * BZPOPMIN, and BullMQ's recovery for a cluster client left without nodes connects the duplicate
 * again before the close goes on. In about one run in twenty-five of the job-queue test, such a
 * reconnected duplicate was left ready with a node's socket open after everything was closed, and
 * kept the process alive. Kept here, the duplicates are refused any new connection once the worker
 * closes, and closed after it, whatever state BullMQ left them in.
 */
function keepDuplicates (connection: RedisClient): RedisClient[] {
  const duplicates: RedisClient[] = []
  const duplicate = connection.duplicate as (...args: unknown[]) => RedisClient
  connection.duplicate = function (this: RedisClient, ...args: unknown[]) {
    const copy = duplicate.apply(this, args)
    duplicates.push(copy)
    return copy
  } as typeof connection.duplicate
  return duplicates
}

/** Whoever asks this client to connect again (BullMQ's recovery, ioredis' own reconnect) is refused. */
function refuseToConnect (redis: RedisClient): void {
  redis.connect = async () => { throw new Error('the worker is closed: its connection does not connect again') }
}
