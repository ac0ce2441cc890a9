import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { signatureMatches, wechatSignature } from './signature.js'

/** Where a message was refused; `key` is a bad EncodingAESKey at construction time. */
export type CryptoStage = 'key' | 'signature' | 'base64' | 'length' | 'padding' | 'msgLen' | 'receiveId'

/** The codes of WeChat's own WXBizMsgCrypt samples, so logs read the same as theirs. */
export const CRYPTO_ERROR_CODES = {
  signature: -40001,
  key: -40004,
  receiveId: -40005,
  decrypt: -40007
} as const

const STAGE_CODES: Readonly<Record<CryptoStage, number>> = {
  key: CRYPTO_ERROR_CODES.key,
  signature: CRYPTO_ERROR_CODES.signature,
  base64: CRYPTO_ERROR_CODES.decrypt,
  length: CRYPTO_ERROR_CODES.decrypt,
  padding: CRYPTO_ERROR_CODES.decrypt,
  msgLen: CRYPTO_ERROR_CODES.decrypt,
  receiveId: CRYPTO_ERROR_CODES.receiveId
}

/**
 * A message (or a key) we refuse. Callers branch on `stage` or `code`; the message names the
 * check only, never the key, the token or anything decrypted.
 */
export class WeChatCryptoError extends Error {
  readonly stage: CryptoStage
  readonly code: number

  constructor (stage: CryptoStage, message: string) {
    super(message)
    this.name = 'WeChatCryptoError'
    this.stage = stage
    this.code = STAGE_CODES[stage]
  }
}

const ENCODING_AES_KEY = /^[A-Za-z0-9]{43}$/
const AES_KEY_BYTES = 32
const RANDOM_BYTES = 16
const LENGTH_BYTES = 4
const HEADER_BYTES = RANDOM_BYTES + LENGTH_BYTES
/** WeChat pads to 32 bytes (PKCS#7 generalised), not to the 16-byte AES block. */
const PAD_BLOCK = 32
// Only canonical padding positions; `Buffer.from(s, 'base64')` would silently skip anything else.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * EncodingAESKey → the 32-byte AES key. The 43rd character carries 2 unused bits that WeChat often
 * leaves non-zero (the official sample key is one), so they are ignored, never checked.
 */
export function parseEncodingAesKey (encodingAesKey: string): Buffer {
  if (typeof encodingAesKey !== 'string' || !ENCODING_AES_KEY.test(encodingAesKey)) {
    throw new WeChatCryptoError('key', 'EncodingAESKey must be exactly 43 characters of [A-Za-z0-9]')
  }
  const key = Buffer.from(`${encodingAesKey}=`, 'base64')
  if (key.length !== AES_KEY_BYTES) throw new WeChatCryptoError('key', 'EncodingAESKey does not decode to 32 bytes')
  return key
}

export interface MessageCryptoOptions {
  token: string
  encodingAesKey: string
  /** The receiveId WeChat puts after the message: the Official Account's appid (a corpid on WeCom). */
  appId: string
}

export interface EncryptedMessage {
  msgSignature: string
  timestamp: string
  nonce: string
  /** The base64 `<Encrypt>` value (the `echostr` of a WeCom URL check). */
  encrypt: string
}

export interface EncryptOptions {
  timestamp: string
  nonce: string
  /** The 16 random leading bytes; fresh ones when absent (fixed only to reproduce published vectors). */
  random?: Buffer
}

// Our own values go into the reply XML unescaped: keep them to characters that cannot break it.
const REPLY_TIMESTAMP = /^[0-9]{1,20}$/
const REPLY_NONCE = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Compatible and safe mode message encryption (WXBizMsgCrypt). The key stays inside the closure,
 * so logging the returned object shows nothing secret.
 */
export function createMessageCrypto ({ token, encodingAesKey, appId }: MessageCryptoOptions) {
  const key = parseEncodingAesKey(encodingAesKey)
  const iv = key.subarray(0, RANDOM_BYTES)
  const appIdBytes = Buffer.from(appId, 'utf8')
  if (typeof token !== 'string' || token === '') throw new TypeError('token must be a non-empty string')
  if (appIdBytes.length === 0) throw new TypeError('appId must be a non-empty string')

  /**
   * Checks run cheapest and most trustworthy first: nothing is decrypted before the signature
   * matched, so the later checks are not an oracle for anyone without the token.
   */
  function decrypt ({ msgSignature, timestamp, nonce, encrypt }: EncryptedMessage): string {
    if (typeof timestamp !== 'string' || typeof nonce !== 'string' || typeof encrypt !== 'string' ||
      !signatureMatches(wechatSignature([token, timestamp, nonce, encrypt]), msgSignature)) {
      throw new WeChatCryptoError('signature', 'msg_signature does not match')
    }
    if (encrypt.length % 4 !== 0 || !STRICT_BASE64.test(encrypt)) {
      throw new WeChatCryptoError('base64', 'Encrypt is not canonical base64')
    }
    const ciphertext = Buffer.from(encrypt, 'base64')
    // Non-zero unused bits before "=" decode silently: a re-encode that differs means a forged or mangled value.
    if (ciphertext.toString('base64') !== encrypt) {
      throw new WeChatCryptoError('base64', 'Encrypt is not canonical base64')
    }
    if (ciphertext.length === 0 || ciphertext.length % PAD_BLOCK !== 0) {
      throw new WeChatCryptoError('length', `ciphertext length is not a positive multiple of ${PAD_BLOCK}`)
    }

    const decipher = createDecipheriv('aes-256-cbc', key, iv).setAutoPadding(false)
    const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()])

    const pad = padded[padded.length - 1] ?? 0
    if (pad < 1 || pad > PAD_BLOCK) throw new WeChatCryptoError('padding', 'padding byte out of range')
    for (let i = padded.length - pad; i < padded.length; i++) {
      if (padded[i] !== pad) throw new WeChatCryptoError('padding', 'padding bytes differ')
    }
    const content = padded.subarray(0, padded.length - pad)

    if (content.length < HEADER_BYTES) throw new WeChatCryptoError('msgLen', 'plaintext shorter than its header')
    // A garbled length can be anything up to 2^32 - 1: compare before slicing, never trust it.
    const msgLen = content.readUInt32BE(RANDOM_BYTES)
    if (msgLen > content.length - HEADER_BYTES) throw new WeChatCryptoError('msgLen', 'msg_len exceeds the plaintext')

    const receiveId = content.subarray(HEADER_BYTES + msgLen)
    if (!receiveId.equals(appIdBytes)) throw new WeChatCryptoError('receiveId', 'receiveId is not our appid')

    return content.toString('utf8', HEADER_BYTES, HEADER_BYTES + msgLen)
  }

  function encrypt (plainXml: string, { timestamp, nonce, random = randomBytes(RANDOM_BYTES) }: EncryptOptions): { encrypt: string, msgSignature: string } {
    if (random.length !== RANDOM_BYTES) throw new RangeError(`random must be ${RANDOM_BYTES} bytes`)
    const message = Buffer.from(plainXml, 'utf8')
    const length = Buffer.alloc(LENGTH_BYTES)
    length.writeUInt32BE(message.length)
    const unpadded = RANDOM_BYTES + LENGTH_BYTES + message.length + appIdBytes.length
    // 1..32, and a whole block of 32 × 0x20 when already aligned (what WeChat's decoders expect).
    const pad = PAD_BLOCK - (unpadded % PAD_BLOCK)
    const plaintext = Buffer.concat([random, length, message, appIdBytes, Buffer.alloc(pad, pad)])

    const cipher = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false)
    const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64')
    return { encrypt: encrypted, msgSignature: wechatSignature([token, timestamp, nonce, encrypted]) }
  }

  /** The body of an encrypted passive reply, signed over our own timestamp and nonce. */
  function encryptedReply (plainXml: string, options: EncryptOptions): string {
    const { timestamp, nonce } = options
    if (!REPLY_TIMESTAMP.test(timestamp)) throw new RangeError('timestamp must be decimal digits')
    if (!REPLY_NONCE.test(nonce)) throw new RangeError('nonce must be 1-64 characters of [A-Za-z0-9_-]')
    const { encrypt: encrypted, msgSignature } = encrypt(plainXml, options)
    return '<xml>\n' +
      `<Encrypt><![CDATA[${encrypted}]]></Encrypt>\n` +
      `<MsgSignature><![CDATA[${msgSignature}]]></MsgSignature>\n` +
      `<TimeStamp>${timestamp}</TimeStamp>\n` +
      `<Nonce><![CDATA[${nonce}]]></Nonce>\n` +
      '</xml>'
  }

  return { decrypt, encrypt, encryptedReply }
}

export type MessageCrypto = ReturnType<typeof createMessageCrypto>
