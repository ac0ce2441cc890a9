import type { LoginStore } from '../../login/store.js'
import { assertCodeOfLogin, sha256 } from '../../login/tokens.js'
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

    async discard (scene) {
      logins.delete(scene)
    },

    async restore (record, retainMs) {
      if (logins.has(record.scene)) return false
      logins.setUntil(record.scene, normalize(record), record.expiresAt + retainMs)
      return true
    },

    async markScanned (scene, now, openid): Promise<TransitionResult> {
      const record = logins.get(scene)
      const refused = finalOrExpired(record, now)
      if (refused !== null || record === undefined) return refused ?? 'missing'
      if (record.status === 'scanned') return isScanner(record, openid) ? 'already_scanned' : 'another_scanner'
      record.status = 'scanned'
      record.scannedAt = now
      record.scannedBy = openid
      return 'changed'
    },

    async releaseScan (scene, openid): Promise<TransitionResult> {
      const record = logins.get(scene)
      if (record === undefined) return 'missing'
      if (record.status === 'confirmed') return 'already_confirmed'
      if (record.status === 'denied') return 'already_denied'
      if (record.status !== 'scanned') return 'changed'
      if (!isScanner(record, openid)) return 'another_scanner'
      record.status = 'pending'
      record.scannedAt = undefined
      record.scannedBy = undefined
      return 'changed'
    },

    async confirm (scene, identity, code, codeTtlMs, now): Promise<TransitionResult> {
      assertCodeOfLogin(scene, code)
      const record = logins.get(scene)
      const refused = decisionRefused(record, now, identity.openid)
      if (refused !== null || record === undefined) return refused ?? 'missing'
      record.status = 'confirmed'
      record.confirmedAt = now
      record.code = code
      record.codeExpiresAt = now + codeTtlMs
      // Stored as JSON, as in Redis: the caller's object cannot change the identity afterwards.
      codes.set(sha256(code), JSON.stringify(identity), codeTtlMs)
      return 'changed'
    },

    async deny (scene, openid, now): Promise<TransitionResult> {
      const record = logins.get(scene)
      const refused = decisionRefused(record, now, openid)
      if (refused !== null || record === undefined) return refused ?? 'missing'
      record.status = 'denied'
      record.deniedAt = now
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

/** Why no transition may happen: the Redis scripts' shared first checks, in their order. */
function finalOrExpired (record: LoginRecord | undefined, now: number): TransitionResult | null {
  if (record === undefined) return 'missing'
  if (record.status === 'confirmed') return 'already_confirmed'
  if (record.status === 'denied') return 'already_denied'
  if (record.expiresAt <= now) return 'expired'
  return null
}

/** A login scanned before scannedBy existed belongs to whoever scans it, as in the Redis scripts. */
function isScanner (record: LoginRecord, openid: string): boolean {
  return record.scannedBy === undefined || record.scannedBy === openid
}

/** A decision (confirm, deny) is the scanner's alone, on a live scanned login. */
function decisionRefused (record: LoginRecord | undefined, now: number, openid: string): TransitionResult | null {
  const refused = finalOrExpired(record, now)
  if (refused !== null || record === undefined) return refused ?? 'missing'
  if (record.status !== 'scanned') return 'not_scanned'
  return isScanner(record, openid) ? null : 'another_scanner'
}

/** A copy in exactly the shape the Redis driver reads back, so callers cannot tell the drivers apart. */
function normalize (record: LoginRecord): LoginRecord {
  return {
    scene: record.scene,
    secretHash: record.secretHash,
    status: record.status,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    requester: record.requester === undefined ? undefined : { ...record.requester },
    scannedAt: record.scannedAt,
    scannedBy: record.scannedBy,
    code: record.code,
    codeExpiresAt: record.codeExpiresAt,
    confirmedAt: record.confirmedAt,
    deniedAt: record.deniedAt
  }
}
