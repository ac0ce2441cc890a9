import type { RedisClient } from './connections.js'
import type { UserTokenStore } from '../../oauth/user-token-store.js'
import type { RedisKeyspace } from './keys.js'

export function createRedisUserTokenStore (redis: RedisClient, keys: Pick<RedisKeyspace, 'oauthUserTokens'>): UserTokenStore {
  return {
    async put (appId, openid, sealed, removeAt) {
      await redis.set(keys.oauthUserTokens(appId, openid), sealed, 'PXAT', removeAt)
    },
    get (appId, openid) {
      return redis.get(keys.oauthUserTokens(appId, openid))
    },
    async delete (appId, openid) {
      await redis.del(keys.oauthUserTokens(appId, openid))
    }
  }
}
