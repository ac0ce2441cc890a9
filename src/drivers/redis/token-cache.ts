import type { Result } from 'ioredis'
import type { RedisClient } from './connections.js'
import type { CachedToken, TokenCache } from '../../wechat/access-token.js'
import { createWakeups } from '../wakeups.js'
import type { AccessTokenKeys } from './keys.js'

/** A fresh fence is the counter's next value: higher than every fence handed out before. */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local fence = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
return fence
`

const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'released')
return 1
`

/** Only the lock's holder writes, and never over a token stored under a higher fence. */
const SET_IF_FENCED = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local current = redis.call('GET', KEYS[1])
if current then
  local stored = cjson.decode(current).fence
  if type(stored) == 'number' and stored > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], 'stored')
return 1
`

/**
 * The fence counter outlives every token stored under its fences (≤ 2 h) by far, so fences only
 * grow; it still expires once the deployment is gone.
 */
const FENCE_COUNTER_TTL_MS = 30 * 24 * 60 * 60 * 1000

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wqlAcquireTokenLock (lock: string, counter: string, ttlMs: number, counterTtlMs: number): Result<number | null, Context>
    wqlReleaseTokenLock (lock: string, fence: string, channel: string): Result<number, Context>
    wqlSetTokenIfFenced (key: string, lock: string, fence: string, json: string, ttlMs: number, channel: string): Result<number, Context>
  }
}

export interface RedisTokenCache extends TokenCache {
  /** Resolves once the notification channel is subscribed: the drivers are not ready before. */
  subscribe (): Promise<void>
}

/**
 * One access token per app id, shared by every instance and worker of the deployment, with its
 * refresh lock. `subscriber` is a connection of its own (a subscribed connection does nothing else):
 * it carries the "a token was stored / a refresh ended" notifications to the waiters.
 */
export function createRedisTokenCache (redis: RedisClient, subscriber: RedisClient, keys: AccessTokenKeys): RedisTokenCache {
  redis.defineCommand('wqlAcquireTokenLock', { numberOfKeys: 2, lua: ACQUIRE })
  redis.defineCommand('wqlReleaseTokenLock', { numberOfKeys: 1, lua: RELEASE })
  redis.defineCommand('wqlSetTokenIfFenced', { numberOfKeys: 2, lua: SET_IF_FENCED })
  const { token: key, lock: lockKey, fence: fenceKey, forced: forcedKey, updated: channel } = keys

  const wakeups = createWakeups()
  let subscribed: Promise<void> | null = null
  const notify = () => wakeups.wakeAll()
  subscriber.on('message', (from: string) => { if (from === channel) notify() })
  // Pub/sub is at most once: after a reconnect (ioredis resubscribes) every waiter looks again.
  subscriber.on('ready', notify)

  function subscribe (): Promise<void> {
    if (subscribed === null) {
      const attempt = subscriber.subscribe(channel).then(() => undefined)
      subscribed = attempt
      // A failed subscription is tried again by the next wait; meanwhile waiters re-read on their bounded timer.
      attempt.catch(() => { if (subscribed === attempt) subscribed = null })
    }
    return subscribed
  }

  return {
    async get () {
      const stored = await redis.get(key)
      if (stored === null) return null
      const { token, expiresAt, refreshAt } = JSON.parse(stored) as CachedToken
      return { token, expiresAt, refreshAt }
    },

    async set (entry) {
      const ttl = entry.expiresAt - Date.now()
      if (ttl <= 0) return
      await redis.set(key, JSON.stringify(toStored(entry, 0)), 'PX', ttl)
      await redis.publish(channel, 'stored')
    },

    async acquireRefreshLock (ttlMs) {
      const fence = await redis.wqlAcquireTokenLock(lockKey, fenceKey, ttlMs, FENCE_COUNTER_TTL_MS)
      return fence === null ? null : String(fence)
    },

    async releaseRefreshLock (fence) {
      await redis.wqlReleaseTokenLock(lockKey, fence, channel)
    },

    async setIfFenced (entry, fence) {
      const ttl = entry.expiresAt - Date.now()
      if (ttl <= 0) return false
      const json = JSON.stringify(toStored(entry, Number(fence)))
      return await redis.wqlSetTokenIfFenced(key, lockKey, fence, json, ttl, channel) === 1
    },

    subscribe,

    waitForUpdate (timeoutMs, signal) {
      subscribe().catch(() => {})
      return wakeups.wait(timeoutMs, signal)
    },

    async claimForcedRefresh (windowMs) {
      return await redis.set(forcedKey, '1', 'PX', windowMs, 'NX') === 'OK'
    }
  }
}

function toStored (entry: CachedToken, fence: number): CachedToken & { fence: number } {
  return { token: entry.token, expiresAt: entry.expiresAt, refreshAt: entry.refreshAt, fence }
}
