import type { UserTokenStore } from '../../oauth/user-token-store.js'
import { createTtlMap } from '../../util/ttl-map.js'
import { userTokenId } from '../../oauth/user-token-id.js'

export interface MemoryUserTokenStore extends UserTokenStore {
  close (): void
}

export function createMemoryUserTokenStore ({ clock = Date.now }: { clock?: () => number } = {}): MemoryUserTokenStore {
  const tokens = createTtlMap<string, string>({ clock, sweepIntervalMs: 30_000 })
  return {
    async put (appId, openid, sealed, removeAt) {
      tokens.setUntil(userTokenId(appId, openid), sealed, removeAt)
    },
    async get (appId, openid) {
      return tokens.get(userTokenId(appId, openid)) ?? null
    },
    async delete (appId, openid) {
      tokens.delete(userTokenId(appId, openid))
    },
    close () {
      tokens.close()
    }
  }
}
