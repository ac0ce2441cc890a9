/**
 * What a deployment left in Redis: every key under its prefix either expires or is one of BullMQ's
 * documented structures (src/drivers/redis/keys.ts: BULL_QUEUE_STRUCTURES), or the hash of a job one
 * of them lists. Anything else is an orphan: it would stay for ever.
 */
import type { Redis } from 'ioredis'
import { BULL_QUEUE_STRUCTURES, redisKeyspace } from '../../src/drivers/redis/keys.js'
import { WECHAT_EVENTS_QUEUE } from '../../src/jobs/definitions.js'

export interface KeyspaceAudit {
  keys: number
  /** Keys that expire, and the longest time any has left. */
  expiring: number
  longestTtlMs: number
  /** BullMQ's structures found, and the job hashes they list. */
  structures: string[]
  jobs: number
  /** Keys without a TTL that nothing accounts for. */
  orphans: string[]
}

export async function auditKeyspace (redis: Redis, prefix: string): Promise<KeyspaceAudit> {
  const queue = `${redisKeyspace(prefix).bullPrefix}:${WECHAT_EVENTS_QUEUE}:`
  const listed = new Set<string>()
  for (const name of ['wait', 'paused', 'active']) for (const id of await redis.lrange(`${queue}${name}`, 0, -1)) listed.add(id)
  for (const name of ['delayed', 'prioritized', 'completed', 'failed']) for (const id of await redis.zrange(`${queue}${name}`, '0', '-1')) listed.add(id)

  const audit: KeyspaceAudit = { keys: 0, expiring: 0, longestTtlMs: 0, structures: [], jobs: 0, orphans: [] }
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      const ttl = await redis.pttl(key)
      if (ttl === -2) continue
      audit.keys += 1
      if (ttl >= 0) {
        audit.expiring += 1
        audit.longestTtlMs = Math.max(audit.longestTtlMs, ttl)
        continue
      }
      const name = key.startsWith(queue) ? key.slice(queue.length) : null
      if (name !== null && BULL_QUEUE_STRUCTURES.includes(name)) audit.structures.push(name)
      else if (name !== null && listed.has(name)) audit.jobs += 1
      else audit.orphans.push(key)
    }
  } while (cursor !== '0')
  audit.structures.sort()
  return audit
}
