import type { Identity as IdentityOnTheWire, LoginFlow, LoginStatus } from '../wire/login.js'

export type { LoginFlow, Profile } from '../wire/login.js'

/**
 * What the service learned about the visitor; handed to the application's backend for a login code.
 * The exchange's answer with `confirmedAt` in epoch milliseconds, so one schema defines both. `flow`
 * is absent only in codes issued before flows existed: those are follow-scan ones.
 */
export type Identity = Omit<IdentityOnTheWire, 'confirmedAt' | 'flow'> & { confirmedAt: number, flow?: LoginFlow }

/** Expiry is not stored: a login is expired when its clock says so. */
export type StoredStatus = Exclude<LoginStatus, 'expired'>

export interface LoginRecord {
  scene: string
  /** sha256 of the browser secret: a leaked store dump does not let anyone watch a login. */
  secretHash: string
  status: StoredStatus
  createdAt: number
  expiresAt: number
  /** Who asked for the login (POST /api/login/qr), shown on the phone's confirmation page. */
  requester?: Requester
  scannedAt?: number
  /** The openid of the first scanner: the login is theirs alone to confirm (or deny). */
  scannedBy?: string
  /** Present once confirmed, until the code expires or the record does. */
  code?: string
  codeExpiresAt?: number
  confirmedAt?: number
  deniedAt?: number
}

/**
 * The browser that created a login, as the server saw it. `origin` is absent when the request
 * carried no Origin header (not a browser page: a script, a server).
 */
export interface Requester {
  origin?: string
  /** At most REQUESTER_USER_AGENT_MAX characters. */
  userAgent?: string
  ip: string
}

export const REQUESTER_USER_AGENT_MAX = 256

/**
 * 'changed' when this call moved the login; otherwise why not. 'another_scanner': someone else
 * scanned first (or, for a decision, this openid is not the scanner); 'not_scanned': a decision on a
 * login nobody has scanned yet.
 */
export type TransitionResult =
  'changed' | 'already_scanned' | 'already_confirmed' | 'already_denied' | 'another_scanner' | 'not_scanned' | 'missing' | 'expired'
