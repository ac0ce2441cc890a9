import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
/** The format's version, first in every sealed value: a later key rotation can tell old values apart. */
const VERSION = 'v1'
const STANDARD_BASE64_32_BYTES = /^[A-Za-z0-9+/]{43}=?$/

/**
 * TOKEN_ENC_KEY: 32 random bytes in standard base64 (`openssl rand -base64 32`). null for anything
 * else, including a non-canonical last character, so a mistyped key is refused rather than
 * silently decoded to another one.
 */
export function parseTokenEncKey (value: string): Buffer | null {
  if (!STANDARD_BASE64_32_BYTES.test(value)) return null
  const key = Buffer.from(value, 'base64')
  if (key.length !== KEY_BYTES || key.toString('base64') !== value.padEnd(44, '=')) return null
  return key
}

/** A key for another job than encryption (cookie signing), so no key ever serves two algorithms. */
export function deriveKey (key: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `wechat-qr-login ${purpose}`, KEY_BYTES))
}

export interface Sealer {
  /** AES-256-GCM with a random IV; `context` (authenticated, not stored) binds the value to its place. */
  seal (plaintext: string, context: string): string
  /** null when the key, the context or a single bit differs: a value never decrypts to garbage. */
  open (sealed: string, context: string): string | null
}

export function createSealer (key: Buffer): Sealer {
  if (key.length !== KEY_BYTES) throw new RangeError(`the token key must be ${KEY_BYTES} bytes`)
  return {
    seal (plaintext, context) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(Buffer.from(context, 'utf8'))
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return `${VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`
    },

    open (sealed, context) {
      const dot = sealed.indexOf('.')
      if (dot === -1 || sealed.slice(0, dot) !== VERSION) return null
      const bytes = Buffer.from(sealed.slice(dot + 1), 'base64url')
      if (bytes.length < IV_BYTES + TAG_BYTES) return null
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES))
        decipher.setAAD(Buffer.from(context, 'utf8'))
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        return null
      }
    }
  }
}
