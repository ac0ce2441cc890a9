/**
 * `node dist/test/bench/worker-cost.js`: what an idle worker costs Redis, in commands per minute,
 * with our lock and stalled-check settings (a crashed worker's job back within 8 s) and with
 * BullMQ's defaults (up to a minute). Each variant gets a redis-server of its own, so INFO
 * commandstats counts nothing else. WORKER_COST_WINDOW_MS sets the idle window (default a minute).
 */
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { startBullWorker } from '../../src/drivers/redis/job-queue.js'
import { WECHAT_EVENTS_QUEUE, scanRetryPolicy } from '../../src/jobs/definitions.js'
import type { Log } from '../../src/log.js'
import { startRedisServer } from '../helpers/redis-server.js'

const WINDOW_MS = Number(process.env.WORKER_COST_WINDOW_MS ?? 60_000)
const silent: Log = { fatal () {}, error () {}, warn () {}, info () {}, debug () {} }

interface Variant {
  name: string
  start (url: string): Promise<() => Promise<void>>
}

const variants: Variant[] = [
  {
    name: 'ours (lock 5 s, stalled check 3 s)',
    async start (url) {
      const connection = new Redis(url, { maxRetriesPerRequest: null })
      const worker = startBullWorker(WECHAT_EVENTS_QUEUE, async () => {}, {
        prefix: 'cost:bull', connection, concurrency: 16, log: silent, retry: scanRetryPolicy(300_000)
      })
      return async () => { await worker.close(); connection.disconnect() }
    }
  },
  {
    name: "BullMQ's defaults (lock 30 s, stalled check 30 s)",
    async start (url) {
      const connection = new Redis(url, { maxRetriesPerRequest: null })
      const worker = new Worker(WECHAT_EVENTS_QUEUE, async () => {}, { prefix: 'cost:bull', connection, concurrency: 16 })
      worker.on('error', () => {})
      return async () => { await worker.close(); connection.disconnect() }
    }
  }
]

/** calls per command from INFO commandstats. */
async function commandStats (redis: Redis): Promise<Map<string, number>> {
  const stats = new Map<string, number>()
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (match !== null) stats.set(match[1] ?? '', Number(match[2]))
  }
  return stats
}

const cleanups: Array<() => unknown> = []
try {
  console.log(`idle worker, one process, ${WINDOW_MS / 1000} s window; commands per minute (INFO commandstats, our probes excluded)`)
  for (const variant of variants) {
    const server = await startRedisServer({ after: (cleanup) => { cleanups.push(cleanup) } })
    const probe = new Redis(server.url)
    const stop = await variant.start(server.url)
    // Start-up (script loading, connection set-up) is not what an idle minute costs.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    await probe.config('RESETSTAT')
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
    const stats = await commandStats(probe)
    // The probe's own INFO and CONFIG are not the worker's.
    stats.delete('info')
    stats.delete('config|resetstat')
    const perMinute = (calls: number) => (calls * 60_000 / WINDOW_MS).toFixed(1)
    const total = [...stats.values()].reduce((sum, calls) => sum + calls, 0)
    const detail = [...stats.entries()].sort((a, b) => b[1] - a[1]).map(([name, calls]) => `${name} ${perMinute(calls)}`).join(', ')
    console.log(`${variant.name.padEnd(48)} ${perMinute(total).padStart(7)} /min   (${detail})`)
    await stop()
    probe.disconnect()
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
