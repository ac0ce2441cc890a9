import { hash, timingSafeEqual } from 'node:crypto'

/**
 * Whether two secrets are equal, in a time that depends neither on where they differ nor on their
 * lengths: both are hashed first, since timingSafeEqual needs equal lengths and a length check
 * before it would tell an attacker how long the secret is.
 */
export function safeEqual (a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b))
}

function digest (value: string | Buffer): Buffer {
  return hash('sha256', value, 'buffer')
}
