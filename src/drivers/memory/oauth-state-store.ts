import { sha256 } from '../../login/tokens.js'
import type { OAuthStateStore, StoredState } from '../../oauth/state-store.js'
import { createTtlMap } from '../../util/ttl-map.js'

export interface MemoryOAuthStateStore extends OAuthStateStore {
  close (): void
}

/** The Redis driver's semantics in one process: each call reads and writes without an await between. */
export function createMemoryOAuthStateStore ({ clock = Date.now }: { clock?: () => number } = {}): MemoryOAuthStateStore {
  const states = createTtlMap<string, StoredState>({ clock, sweepIntervalMs: 30_000 })
  const copy = (stored: StoredState): StoredState => structuredClone(stored)

  return {
    async create (state, record, retainMs) {
      states.setUntil(sha256(state), { record: { ...record }, status: 'open', codeHash: null, answer: null }, record.expiresAt + retainMs)
    },

    async claim (state, browserHash, codeHash, now) {
      const stored = states.get(sha256(state))
      if (stored === undefined) return { outcome: 'missing' }
      if (stored.record.browserHash !== browserHash) return { outcome: 'foreign' }
      if (stored.status !== 'open') return { outcome: 'taken', stored: copy(stored) }
      if (stored.record.expiresAt <= now) return { outcome: 'expired', stored: copy(stored) }
      stored.status = 'claimed'
      stored.codeHash = codeHash
      return { outcome: 'claimed', stored: copy(stored) }
    },

    async settle (state, answer) {
      const stored = states.get(sha256(state))
      if (stored === undefined) return false
      stored.status = 'settled'
      stored.answer = answer
      return true
    },

    async get (state) {
      const stored = states.get(sha256(state))
      return stored === undefined ? null : copy(stored)
    },

    close () {
      states.close()
    }
  }
}
