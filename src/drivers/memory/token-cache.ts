import type { CachedToken, TokenCache } from '../../wechat/access-token.js'
import { createWakeups } from '../wakeups.js'

interface Stored extends CachedToken {
  fence: number
}

/**
 * The access token of the one process, with the same lock, fence and notification contract as the
 * Redis driver (embedded mode has a single process, but the protocol above does not know that).
 * Entries and the lock expire at their deadlines, as the Redis keys' PX do.
 */
export function createMemoryTokenCache ({ clock = Date.now }: { clock?: () => number } = {}): TokenCache {
  let cached: Stored | null = null
  let lock: { fence: number, expiresAt: number } | null = null
  let lastFence = 0
  let forcedUntil = 0
  const wakeups = createWakeups()

  function current (): Stored | null {
    if (cached !== null && cached.expiresAt <= clock()) cached = null
    return cached
  }

  function holder (): number | null {
    if (lock !== null && lock.expiresAt <= clock()) lock = null
    return lock?.fence ?? null
  }

  function notify (): void {
    wakeups.wakeAll()
  }

  function store (entry: CachedToken, fence: number): boolean {
    if (entry.expiresAt <= clock()) return false
    cached = { token: entry.token, expiresAt: entry.expiresAt, refreshAt: entry.refreshAt, fence }
    notify()
    return true
  }

  return {
    async get () {
      const entry = current()
      return entry === null ? null : { token: entry.token, expiresAt: entry.expiresAt, refreshAt: entry.refreshAt }
    },

    async set (entry) {
      store(entry, 0)
    },

    async acquireRefreshLock (ttlMs) {
      if (holder() !== null) return null
      lock = { fence: ++lastFence, expiresAt: clock() + ttlMs }
      return String(lock.fence)
    },

    async releaseRefreshLock (fence) {
      if (holder() !== Number(fence)) return
      lock = null
      notify()
    },

    async setIfFenced (entry, fence) {
      const value = Number(fence)
      if (holder() !== value || (current()?.fence ?? 0) > value) return false
      return store(entry, value)
    },

    waitForUpdate (timeoutMs, signal) {
      return wakeups.wait(timeoutMs, signal)
    },

    async claimForcedRefresh (windowMs) {
      if (clock() < forcedUntil) return false
      forcedUntil = clock() + windowMs
      return true
    }
  }
}
