import { Redis, type RedisOptions } from 'ioredis'

/**
 * Request-path commands fail fast while Redis is down (no offline queue): the webhook answers 503
 * within WeChat's 5 s and WeChat retries, instead of hanging ~10 s in ioredis' queue.
 */
export function createCommandConnection (url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
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

/** quit() when connected, disconnect() otherwise; harmless twice. */
export async function closeConnection (redis: Redis): Promise<void> {
  if (redis.status === 'end') return
  if (redis.status === 'ready') {
    await redis.quit().catch(() => redis.disconnect())
  } else {
    redis.disconnect()
  }
}
