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
  scannedAt?: number
  /** Present once confirmed, until the code expires or the record does. */
  code?: string
  codeExpiresAt?: number
  confirmedAt?: number
}

/** 'changed' when this call moved the login; otherwise why not. */
export type TransitionResult = 'changed' | 'already_scanned' | 'already_confirmed' | 'missing' | 'expired'
