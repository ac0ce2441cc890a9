import type { LoginRecord, LoginStatus } from './types.js'

/** What the page sees, over the socket and from the polling endpoint alike. */
export interface StatusMessage {
  type: 'status'
  status: LoginStatus
  /** Seconds left: of the QR code, or with `confirmed` of the login code (0 once gone). */
  expiresIn: number
  /** Only with `confirmed`, and only while the code is still valid. */
  code?: string
}

function effectiveStatus (record: LoginRecord, now: number): LoginStatus {
  if (record.status === 'confirmed') return 'confirmed'
  return now >= record.expiresAt ? 'expired' : record.status
}

export function statusMessage (record: LoginRecord, now: number): StatusMessage {
  const status = effectiveStatus(record, now)
  if (status !== 'confirmed') {
    return { type: 'status', status, expiresIn: secondsUntil(record.expiresAt, now) }
  }
  const codeLive = record.code !== undefined && record.codeExpiresAt !== undefined && record.codeExpiresAt > now
  return codeLive
    ? { type: 'status', status, code: record.code, expiresIn: secondsUntil(record.codeExpiresAt ?? now, now) }
    : { type: 'status', status, expiresIn: 0 }
}

function secondsUntil (deadline: number, now: number): number {
  return Math.max(0, Math.ceil((deadline - now) / 1000))
}

export function isFinal (status: LoginStatus): boolean {
  return status === 'confirmed' || status === 'expired'
}
