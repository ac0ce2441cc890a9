import type { SignatureLedger } from '../../wechat/signature-ledger.js'
import { createTtlMap } from '../../util/ttl-map.js'

/**
 * One TTL per caller (the timestamp window), so the oldest entries are the first to expire: each
 * new signature trims them, memory stays bounded by one window of pushes, no timer needed.
 */
export function createMemorySignatureLedger ({ clock = Date.now }: { clock?: () => number } = {}): SignatureLedger {
  const seen = createTtlMap<string, string>({ clock })
  return {
    async claim (signature, fingerprint, ttlMs) {
      const first = seen.get(signature)
      if (first === undefined) {
        seen.set(signature, fingerprint, ttlMs)
        return 'first'
      }
      return first === fingerprint ? 'same' : 'different'
    }
  }
}
