import { WeChatCryptoError, type MessageCrypto } from '../../src/wechat/crypto.js'
import { parseXml, XmlError } from '../../src/wechat/xml.js'

/** The part of the webhook query that says how the body is encrypted. */
export interface EncryptionQuery {
  timestamp?: string
  nonce?: string
  encrypt_type?: string
  msg_signature?: string
}

/**
 * A push we will not read. `log` holds only what is safe to log: the stage and code of a crypto
 * failure (as `errcode`: the logger redacts any `code` key, the login code's name), the reason of
 * an XML failure; never the body, the key or anything decrypted.
 */
export class PushRefused extends Error {
  readonly statusCode: 400 | 401
  readonly error: string
  readonly log: Readonly<Record<string, unknown>>

  constructor (statusCode: 400 | 401, error: string, message: string, log: Readonly<Record<string, unknown>> = {}) {
    super(message)
    this.name = 'PushRefused'
    this.statusCode = statusCode
    this.error = error
    this.log = log
  }
}

export interface OpenedPush {
  /** The parsed XML to read the message from: the decrypted copy when the push was encrypted. */
  body: unknown
  /** Compatible or safe mode: a passive reply to this push must be encrypted too. */
  encrypted: boolean
}

function encryptField (body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined
  const root = (body as Record<string, unknown>).xml
  if (root === null || typeof root !== 'object') return undefined
  const value = (root as Record<string, unknown>).Encrypt
  return typeof value === 'string' ? value : undefined
}

/**
 * `encrypt_type=aes` (compatible and safe mode) needs our EncodingAESKey and a `msg_signature`
 * over [token, timestamp, nonce, Encrypt]; the decrypted XML replaces the body whole: in compatible
 * mode the plaintext copies beside <Encrypt> are signed by nothing and are ignored. Once a key is
 * configured a plaintext push is refused: its signature does not cover the body, so accepting it
 * would let anyone who saw one signed URL downgrade and forge within the timestamp window.
 * `allowPlaintext` (WECHAT_ALLOW_PLAINTEXT) lifts that while the console's mode is being switched.
 */
export function openPush (body: unknown, query: EncryptionQuery, crypto: MessageCrypto | null, allowPlaintext: boolean): OpenedPush {
  const encryptType = query.encrypt_type
  if (encryptType === undefined || encryptType === 'raw') {
    if (crypto !== null && !allowPlaintext) {
      throw new PushRefused(401, 'encryption_required', 'plaintext webhook push refused: WECHAT_ENCODING_AES_KEY is set (WECHAT_ALLOW_PLAINTEXT=1 accepts them while switching modes)')
    }
    return { body, encrypted: false }
  }
  if (encryptType !== 'aes') {
    throw new PushRefused(400, 'unsupported_encrypt_type', 'webhook push with an unknown encrypt_type', { encryptType: encryptType.slice(0, 16) })
  }
  if (crypto === null) {
    throw new PushRefused(400, 'encryption_not_configured', 'encrypted webhook push (encrypt_type=aes) but WECHAT_ENCODING_AES_KEY is not set')
  }
  if (query.msg_signature === undefined) {
    throw new PushRefused(401, 'bad_msg_signature', 'encrypted webhook push without msg_signature')
  }
  const encrypt = encryptField(body)
  if (encrypt === undefined) {
    throw new PushRefused(400, 'missing_encrypt', 'encrypted webhook push without an <Encrypt> element')
  }
  let plainXml: string
  try {
    plainXml = crypto.decrypt({ msgSignature: query.msg_signature, timestamp: query.timestamp ?? '', nonce: query.nonce ?? '', encrypt })
  } catch (error) {
    if (!(error instanceof WeChatCryptoError)) throw error
    if (error.stage === 'signature') {
      throw new PushRefused(401, 'bad_msg_signature', 'webhook msg_signature mismatch', { stage: error.stage, errcode: error.code })
    }
    throw new PushRefused(400, 'decrypt_failed', `webhook push could not be decrypted (${error.stage})`, { stage: error.stage, errcode: error.code })
  }
  try {
    return { body: parseXml(plainXml), encrypted: true }
  } catch (error) {
    if (!(error instanceof XmlError)) throw error
    throw new PushRefused(400, 'malformed_xml', 'decrypted webhook push is not valid XML', { reason: error.reason })
  }
}
