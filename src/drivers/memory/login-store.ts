import type { LoginStore } from '../../login/store.js'
import { sha256 } from '../../login/tokens.js'
import type { Identity, LoginRecord, TransitionResult } from '../../login/types.js'
import { createTtlMap } from '../../util/ttl-map.js'

export interface MemoryLoginStore extends LoginStore {
  /** Stops the sweep; the entries go with the process. */
  close (): void
}

/** Often enough that an idle instance gives expired logins back; rare enough to cost nothing. */
const SWEEP_INTERVAL_MS = 30_000

/**
 * The Redis store's semantics in one process. Each transition reads and writes without an await in
 * between, so it is as atomic as the Redis script. Expired entries vanish on read (like Redis' lazy
 * expiry) and in a periodic sweep, so memory stays bounded by the logins still retained.
 */
export function createMemoryLoginStore ({ clock = Date.now }: { clock?: () => number } = {}): MemoryLoginStore {
  const logins = createTtlMap<string, LoginRecord>({ clock, sweepIntervalMs: SWEEP_INTERVAL_MS })
  // Keyed by hash, as in Redis: the code itself is only in its login record, and only while it lives.
  const codes = createTtlMap<string, string>({ clock, sweepIntervalMs: SWEEP_INTERVAL_MS })

  return {
    async create (record, retainMs) {
      logins.setUntil(record.scene, normalize(record), record.expiresAt + retainMs)
    },

    async get (scene) {
      const record = logins.get(scene)
      return record === undefined ? null : normalize(record)
    },

    async restore (record, retainMs) {
      if (logins.has(record.scene)) return false
      logins.setUntil(record.scene, normalize(record), record.expiresAt + retainMs)
      return true
    },

    async markScanned (scene, now): Promise<TransitionResult> {
      const record = logins.get(scene)
      if (record === undefined) return 'missing'
      if (record.status === 'confirmed') return 'already_confirmed'
      if (record.expiresAt <= now) return 'expired'
      if (record.status === 'scanned') return 'already_scanned'
      record.status = 'scanned'
      record.scannedAt = now
      return 'changed'
    },

    async releaseScan (scene): Promise<TransitionResult> {
      const record = logins.get(scene)
      if (record === undefined) return 'missing'
      if (record.status !== 'scanned') return record.status === 'confirmed' ? 'already_confirmed' : 'changed'
      record.status = 'pending'
      record.scannedAt = undefined
      return 'changed'
    },

    async confirm (scene, identity, code, codeTtlMs, now): Promise<TransitionResult> {
      const record = logins.get(scene)
      if (record === undefined) return 'missing'
      if (record.status === 'confirmed') return 'already_confirmed'
      if (record.expiresAt <= now) return 'expired'
      record.status = 'confirmed'
      record.confirmedAt = now
      record.code = code
      record.codeExpiresAt = now + codeTtlMs
      // Stored as JSON, as in Redis: the caller's object cannot change the identity afterwards.
      codes.set(sha256(code), JSON.stringify(identity), codeTtlMs)
      return 'changed'
    },

    async issueCode (code, identity, codeTtlMs) {
      codes.set(sha256(code), JSON.stringify(identity), codeTtlMs)
    },

    async redeemCode (code) {
      const identity = codes.take(sha256(code))
      return identity === undefined ? null : JSON.parse(identity) as Identity
    },

    close () {
      logins.close()
      codes.close()
    }
  }
}

/** A copy in exactly the shape the Redis driver reads back, so callers cannot tell the drivers apart. */
function normalize (record: LoginRecord): LoginRecord {
  return {
    scene: record.scene,
    secretHash: record.secretHash,
    status: record.status,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    scannedAt: record.scannedAt,
    code: record.code,
    codeExpiresAt: record.codeExpiresAt,
    confirmedAt: record.confirmedAt
  }
}
