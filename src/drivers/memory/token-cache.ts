import type { CachedToken, TokenCache } from '../../wechat/access-token.js'

/** The access token of the one process; expires at its expiresAt, as the Redis key's PX does. */
export function createMemoryTokenCache ({ clock = Date.now }: { clock?: () => number } = {}): TokenCache {
  let cached: CachedToken | null = null

  function current (): CachedToken | null {
    if (cached !== null && cached.expiresAt <= clock()) cached = null
    return cached
  }

  return {
    async get () {
      const entry = current()
      return entry === null ? null : { ...entry }
    },
    async set (entry) {
      if (entry.expiresAt > clock()) cached = { token: entry.token, expiresAt: entry.expiresAt }
    },
    async deleteIfEquals (token) {
      if (current()?.token === token) cached = null
    }
  }
}
