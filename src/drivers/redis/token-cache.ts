import type { Redis, Result } from 'ioredis'
import type { CachedToken, TokenCache } from '../../wechat/access-token.js'

const DELETE_IF_EQUALS = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wqlDeleteTokenIfEquals (key: string, token: string): Result<number, Context>
  }
}

/** One access token per app id, shared by every instance and worker of the deployment. */
export function createRedisTokenCache (redis: Redis, prefix: string, appId: string): TokenCache {
  redis.defineCommand('wqlDeleteTokenIfEquals', { numberOfKeys: 1, lua: DELETE_IF_EQUALS })
  const key = `${prefix}wechat:access-token:${appId}`

  return {
    async get () {
      const stored = await redis.get(key)
      return stored === null ? null : JSON.parse(stored) as CachedToken
    },
    async set (entry) {
      const ttl = entry.expiresAt - Date.now()
      if (ttl > 0) await redis.set(key, JSON.stringify(entry), 'PX', ttl)
    },
    async deleteIfEquals (token) {
      await redis.wqlDeleteTokenIfEquals(key, token)
    }
  }
}
