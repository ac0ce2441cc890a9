import type { Redis } from 'ioredis'
import type { UserTokenStore } from '../../oauth/user-token-store.js'
import { oauthKeys } from './oauth-keys.js'

export function createRedisUserTokenStore (redis: Redis, prefix: string): UserTokenStore {
  return {
    async put (appId, openid, sealed, removeAt) {
      await redis.set(oauthKeys.userTokens(prefix, appId, openid), sealed, 'PXAT', removeAt)
    },
    get (appId, openid) {
      return redis.get(oauthKeys.userTokens(prefix, appId, openid))
    },
    async delete (appId, openid) {
      await redis.del(oauthKeys.userTokens(prefix, appId, openid))
    }
  }
}
