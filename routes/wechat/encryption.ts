import { WeChatCryptoError, type MessageCrypto } from '../../src/wechat/crypto.js'
import { parseXml, XmlError } from '../../src/wechat/xml.js'
import {
  BadMsgSignature, DecryptFailed, EncryptionNotConfigured, EncryptionRequired, MalformedXml, MissingEncrypt, UnsupportedEncryptType, withLog
} from '../errors.js'

/** The part of the webhook query that says how the body is encrypted. */
export interface EncryptionQuery {
  timestamp?: string
  nonce?: string
  encrypt_type?: string
  msg_signature?: string
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
 * A push we will not read throws the error (routes/errors.ts) of the check that refused it.
 */
export function openPush (body: unknown, query: EncryptionQuery, crypto: MessageCrypto | null, allowPlaintext: boolean): OpenedPush {
  const encryptType = query.encrypt_type
  if (encryptType === undefined || encryptType === 'raw') {
    if (crypto !== null && !allowPlaintext) {
      throw new EncryptionRequired()
    }
    return { body, encrypted: false }
  }
  if (encryptType !== 'aes') {
    throw withLog(new UnsupportedEncryptType(), { encryptType: encryptType.slice(0, 16) })
  }
  if (crypto === null) {
    throw new EncryptionNotConfigured()
  }
  if (query.msg_signature === undefined) {
    throw new BadMsgSignature('encrypted webhook push without msg_signature')
  }
  const encrypt = encryptField(body)
  if (encrypt === undefined) {
    throw new MissingEncrypt()
  }
  let plainXml: string
  try {
    plainXml = crypto.decrypt({ msgSignature: query.msg_signature, timestamp: query.timestamp ?? '', nonce: query.nonce ?? '', encrypt })
  } catch (error) {
    if (!(error instanceof WeChatCryptoError)) throw error
    // Logged with the failed check and WeChat's own code for it (-40001…), never the body or the key.
    const facts = { stage: error.stage, errcode: error.code }
    throw withLog(error.stage === 'signature' ? new BadMsgSignature('webhook msg_signature mismatch') : new DecryptFailed(error.stage), facts)
  }
  try {
    return { body: parseXml(plainXml), encrypted: true }
  } catch (error) {
    if (!(error instanceof XmlError)) throw error
    throw withLog(new MalformedXml('decrypted webhook push'), { reason: error.reason })
  }
}
