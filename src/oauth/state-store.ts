import type { OAuthStateRecord } from './types.js'

/** open: waiting for the callback; claimed: a callback is exchanging the code; settled: its answer is stored. */
export type StateStatus = 'open' | 'claimed' | 'settled'

export interface StoredState {
  record: OAuthStateRecord
  status: StateStatus
  /** sha256 of the WeChat code the claiming callback carried; null while open. */
  codeHash: string | null
  /** The claiming callback's answer, sealed by the caller; null until settled. */
  answer: string | null
}

export type StateClaim =
  /** Unknown state, or its retention ended. */
  | { outcome: 'missing' }
  /** Started by another browser (another cookie): nothing changed, nothing about it is returned. */
  | { outcome: 'foreign' }
  /** Still open, but past its expiresAt: nothing changed. */
  | { outcome: 'expired', stored: StoredState }
  /** This call moved it open → claimed: it alone exchanges the code. */
  | { outcome: 'claimed', stored: StoredState }
  /** Claimed before by a callback of the same browser (WeChat's connect_redirect calls twice). */
  | { outcome: 'taken', stored: StoredState }

/**
 * Where OAuth `state`s live from authorize to callback. Keyed by the state's hash, so a dump of the
 * store holds no state WeChat would accept. Two drivers (Redis, in-process); contract tests run on
 * both. `claim` is a compare-and-set: of two concurrent callbacks exactly one claims.
 */
export interface OAuthStateStore {
  /** Stored until expiresAt + retainMs, so late callbacks are told "expired", not "unknown". */
  create (state: string, record: OAuthStateRecord, retainMs: number): Promise<void>
  claim (state: string, browserHash: string, codeHash: string, now: number): Promise<StateClaim>
  /** claimed → settled with the answer; false when the state is gone. The retention is unchanged. */
  settle (state: string, answer: string): Promise<boolean>
  get (state: string): Promise<StoredState | null>
}
