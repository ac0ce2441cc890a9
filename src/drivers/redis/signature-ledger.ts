import type { Result } from 'ioredis'
import type { RedisClient } from './connections.js'
import type { SignatureClaim, SignatureLedger } from '../../wechat/signature-ledger.js'

const CLAIM = `
local seen = redis.call('GET', KEYS[1])
if not seen then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'first'
end
if seen == ARGV[1] then return 'same' end
return 'different'
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wqlClaimSignature (key: string, fingerprint: string, ttlMs: string): Result<SignatureClaim, Context>
  }
}

/** Shared by every instance: a signature reused on another instance is caught too. */
export function createRedisSignatureLedger (redis: RedisClient, keyOf: (signature: string) => string): SignatureLedger {
  redis.defineCommand('wqlClaimSignature', { numberOfKeys: 1, lua: CLAIM })
  return {
    claim (signature, fingerprint, ttlMs) {
      return redis.wqlClaimSignature(keyOf(signature), fingerprint, String(ttlMs))
    }
  }
}
