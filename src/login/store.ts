import type { Identity, LoginRecord, TransitionResult } from './types.js'

/**
 * Where logins and one-time codes live. Two drivers implement it (Redis, in-process) and the
 * contract tests run against both. Every transition is a compare-and-set so that a job run twice
 * (BullMQ delivers at least once) or two instances racing never issue two codes.
 */
export interface LoginStore {
  /** Stores a new login; the record outlives expiresAt by `retainMs` so late readers see "expired". */
  create (record: LoginRecord, retainMs: number): Promise<void>
  get (scene: string): Promise<LoginRecord | null>
  /** Removes a login nobody was told of (WeChat refused its QR code). */
  discard (scene: string): Promise<void>
  /**
   * Stores `record` only if the store has no login under its scene: puts back a login the store
   * lost (Redis restarted without its data) from a copy read before. true when it was put back.
   */
  restore (record: LoginRecord, retainMs: number): Promise<boolean>
  /**
   * pending → scanned by `openid`, only while the login is live (now < expiresAt). The first
   * scanner is recorded in the same step: a later scan by the same openid is 'already_scanned', by
   * anyone else 'another_scanner'.
   */
  markScanned (scene: string, now: number, openid: string): Promise<TransitionResult>
  /** scanned → pending when `openid` is the scanner: the scan could not be confirmed (WeChat refused the user), so the QR is open again. */
  releaseScan (scene: string, openid: string): Promise<TransitionResult>
  /**
   * scanned → confirmed, only by the scanner (`identity.openid`), and stores the code → identity
   * mapping in the same atomic step. 'already_confirmed' when another run got there first: the
   * caller's code was not issued. `code` is `newLoginCode(scene)`: it carries the login's tag, which
   * on Redis Cluster puts the code's key in the login's slot (one script writes both).
   */
  confirm (scene: string, identity: Identity, code: string, codeTtlMs: number, now: number): Promise<TransitionResult>
  /** scanned → denied, only by the scanner, while the login is live: it ends without a code. */
  deny (scene: string, openid: string, now: number): Promise<TransitionResult>
  /**
   * Stores a code → identity mapping with no login record (OAuth logins have no QR): the same kind
   * of code as `confirm` issues, redeemed once by `redeemCode`.
   */
  issueCode (code: string, identity: Identity, codeTtlMs: number): Promise<void>
  /** Returns the identity once; any later call with the same code gets null. */
  redeemCode (code: string): Promise<Identity | null>
}
