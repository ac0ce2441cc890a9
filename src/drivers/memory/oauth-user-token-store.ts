import type { UserTokenStore } from '../../oauth/user-token-store.js'
import { createExpiringMap } from './expiring-map.js'
import { userTokenId } from '../../oauth/user-token-id.js'

export interface MemoryUserTokenStore extends UserTokenStore {
  close (): void
}

export function createMemoryUserTokenStore ({ clock = Date.now }: { clock?: () => number } = {}): MemoryUserTokenStore {
  const tokens = createExpiringMap<string>({ clock })
  return {
    async put (appId, openid, sealed, removeAt) {
      tokens.set(userTokenId(appId, openid), sealed, removeAt)
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
