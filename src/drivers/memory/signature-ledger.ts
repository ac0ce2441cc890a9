import type { SignatureLedger } from '../../wechat/signature-ledger.js'

/**
 * In insertion order with one TTL per caller, so the oldest entries are at the front: trimmed on
 * every claim, memory stays bounded by one timestamp window of pushes, no timer needed.
 */
export function createMemorySignatureLedger ({ clock = Date.now }: { clock?: () => number } = {}): SignatureLedger {
  const seen = new Map<string, { fingerprint: string, removeAt: number }>()
  return {
    async claim (signature, fingerprint, ttlMs) {
      const now = clock()
      for (const [key, entry] of seen) {
        if (entry.removeAt > now) break
        seen.delete(key)
      }
      const entry = seen.get(signature)
      if (entry === undefined) {
        seen.set(signature, { fingerprint, removeAt: now + ttlMs })
        return 'first'
      }
      return entry.fingerprint === fingerprint ? 'same' : 'different'
    }
  }
}
