import { hash } from 'node:crypto'
import { safeEqual } from '../util/constant-time.js'

/** sha1 hex of the parts sorted by UTF-16 code unit and joined without a separator (WeChat's scheme). */
export function wechatSignature (parts: readonly string[]): string {
  return hash('sha1', [...parts].sort().join(''), 'hex')
}

/** Constant-time comparison of a hex signature we computed with one we were given. */
export function signatureMatches (expected: string, given: unknown): boolean {
  return typeof given === 'string' && safeEqual(expected, given.toLowerCase())
}

/** The query signature of every webhook request: sha1 over token, timestamp and nonce. */
export function verifyRequestSignature (token: string, query: { signature?: unknown, timestamp?: unknown, nonce?: unknown }): boolean {
  const { signature, timestamp, nonce } = query
  if (typeof timestamp !== 'string' || typeof nonce !== 'string') return false
  return signatureMatches(wechatSignature([token, timestamp, nonce]), signature)
}
