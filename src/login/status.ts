import type { LoginStatus, StatusMessage } from '../wire/login.js'
import type { LoginRecord } from './types.js'

/** A decision (confirmed, denied) outlives the QR; anything else expires with it. */
function effectiveStatus (record: LoginRecord, now: number): LoginStatus {
  if (record.status === 'confirmed' || record.status === 'denied') return record.status
  return now >= record.expiresAt ? 'expired' : record.status
}

export function statusMessage (record: LoginRecord, now: number): StatusMessage {
  const status = effectiveStatus(record, now)
  if (status === 'denied') return { type: 'status', status, expiresIn: 0 }
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
  return status === 'confirmed' || status === 'denied' || status === 'expired'
}
