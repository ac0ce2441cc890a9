/** What the worker learned about the visitor; handed to the application's backend for a login code. */
export interface Identity {
  openid: string
  unionid: string | null
  scene: string
  subscribed: boolean
  confirmedAt: number
}

export type StoredStatus = 'pending' | 'scanned' | 'confirmed'
export type LoginStatus = StoredStatus | 'expired'

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
