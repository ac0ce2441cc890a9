import { randomUUID } from 'node:crypto'
import { Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq'
import type { Log } from '../../log.js'
import {
  DEDUP_TTL_MS, JOB_ATTEMPTS, JOB_BACKOFF_MS, PermanentJobError,
  type JobProcessor, type JobQueue, type JobWorker, type WorkerOptions
} from '../../jobs/definitions.js'

export interface BullOptions {
  /** BullMQ's own key prefix (RedisKeyspace.bullPrefix). */
  prefix: string
  connection: ConnectionOptions
}

export function createBullQueue<T> (queueName: string, jobName: string, { prefix, connection, log, dedupTtlMs = DEDUP_TTL_MS }: BullOptions & { log: Log, dedupTtlMs?: number }): JobQueue<T> & { queue: Queue } {
  const queue = new Queue(queueName, {
    prefix,
    connection,
    defaultJobOptions: {
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: JOB_BACKOFF_MS },
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

export function startBullWorker<T> (queueName: string, processor: JobProcessor<T>, { prefix, connection, concurrency, log, logFields, onStalled }: BullOptions & WorkerOptions<T>): JobWorker {
  const worker = new Worker<T>(queueName, async (job) => {
    try {
      await processor(job.data, job.attemptsMade + 1)
    } catch (error) {
      if (error instanceof PermanentJobError) throw new UnrecoverableError(error.message)
      throw error
    }
  }, { prefix, connection, concurrency })

  worker.on('error', (error) => log.error({ err: error }, 'job worker error'))
  worker.on('failed', (job, error) => {
    log.warn({ jobId: job?.id, ...(job === undefined ? {} : logFields?.(job.data)), attempts: job?.attemptsMade, err: error }, 'job failed')
  })
  worker.on('stalled', (jobId) => {
    log.warn({ jobId }, 'job stalled: its worker stopped renewing the lock; it runs again')
    onStalled?.()
  })

  return {
    async close () {
      await worker.close()
    }
  }
}
