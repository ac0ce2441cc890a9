import { Redis, type RedisOptions } from 'ioredis'
import type { Log } from '../../log.js'

/** A command Redis has not answered in this long fails, so the webhook can still keep the scan on disk within WeChat's 5 s. */
export const COMMAND_TIMEOUT_MS = 2000
const CONNECT_TIMEOUT_MS = 3000
/** While Redis is down ioredis reports every failed reconnect: one line per connection per interval. */
const ERROR_LOG_INTERVAL_MS = 10_000

/**
 * Request-path commands fail fast while Redis is down (no offline queue), instead of hanging ~10 s
 * in ioredis' queue: the webhook decides itself how long to hold a push and when to spool it
 * (jobs/scan-intake.ts), and other routes answer 503.
 */
export function createCommandConnection (url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A partition or failover without a TCP reset would otherwise hang every request until TCP gives up.
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    lazyConnect: true,
    retryStrategy: reconnectBackoff
  })
}

/** BullMQ workers block on Redis and must never give up a command (BullMQ's own requirement). */
export function createBlockingConnectionOptions (): RedisOptions {
  return { maxRetriesPerRequest: null, retryStrategy: reconnectBackoff }
}

/** Bounded exponential backoff: 50 ms doubling to 2 s, forever (a restarting Redis comes back). */
export function reconnectBackoff (attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000)
}

export async function connect (redis: Redis): Promise<void> {
  if (redis.status === 'wait') await redis.connect()
  else if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve)
      redis.once('end', () => reject(new Error('Redis connection ended')))
    })
  }
}

/**
 * Connection errors go to our log (structured, redacted), not to ioredis' console fallback, and at
 * most once per interval per connection while Redis stays down.
 */
export function logConnectionErrors (redis: Redis, log: Log): void {
  let lastLogged = 0
  redis.on('error', (error: Error) => {
    const now = Date.now()
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) return
    lastLogged = now
    log.error({ connection: redis.options.connectionName, err: error }, 'Redis connection error')
  })
}

/**
 * quit() when connected, resolving once the socket is closed (quit() itself resolves on Redis' OK,
 * before that); disconnect() otherwise, which stops any pending reconnect. Harmless twice.
 */
export async function closeConnection (redis: Redis): Promise<void> {
  if (redis.status === 'end') return
  if (redis.status !== 'ready') {
    redis.disconnect()
    return
  }
  const ended = new Promise((resolve) => redis.once('end', resolve))
  await redis.quit().catch(() => redis.disconnect())
  await ended
}
