import { WeChatCryptoError, type MessageCrypto } from '../wechat/crypto.js'
import { toWeChatMessage } from '../wechat/events.js'
import { parseXml, XmlError } from '../wechat/xml.js'

/**
 * What the user's phone shows after a push, read from the webhook's answer as WeChat reads it:
 * nothing for "success" or an empty body; a text message for a passive text reply; WeChat's
 * "该公众号暂时无法提供服务" for anything else, which is what a user sees when a service answers badly.
 */
export type PhoneMessage =
  | { kind: 'none' }
  | { kind: 'text', content: string }
  | { kind: 'broken', reason: string }

/** What WeChat shows the user for an answer it cannot use. */
export const BROKEN_REPLY_TEXT = '该公众号暂时无法提供服务，请稍后再试'

export interface ReplyContext {
  /** The push answered: its sender must be the reply's recipient, its account the reply's sender. */
  fields: Readonly<Record<string, string>>
  /** The push was encrypted (compatible or safe mode): an encrypted reply is understood. */
  encrypted: boolean
  /** Safe mode: only an encrypted reply is. */
  encryptedOnly: boolean
  crypto: MessageCrypto | null
}

function fieldsOf (xml: string): Readonly<Record<string, string>> | null {
  try {
    return toWeChatMessage(parseXml(xml))
  } catch (error) {
    if (error instanceof XmlError) return null
    throw error
  }
}

/**
 * Safe mode takes only an encrypted reply (Encrypt, MsgSignature over our token, its own TimeStamp
 * and Nonce); compatible mode takes either; plaintext mode a plain one.
 */
export function readPassiveReply (body: string, { fields, encrypted, encryptedOnly, crypto }: ReplyContext): PhoneMessage {
  if (body === '' || body === 'success') return { kind: 'none' }
  let xml = body
  const envelope = fieldsOfEnvelope(body)
  if (envelope !== null) {
    if (!encrypted || crypto === null) return { kind: 'broken', reason: 'an encrypted reply to a plaintext push' }
    try {
      xml = crypto.decrypt({ msgSignature: envelope.MsgSignature ?? '', timestamp: envelope.TimeStamp ?? '', nonce: envelope.Nonce ?? '', encrypt: envelope.Encrypt ?? '' })
    } catch (error) {
      if (error instanceof WeChatCryptoError) return { kind: 'broken', reason: `the encrypted reply failed its ${error.stage} check` }
      throw error
    }
  } else if (encryptedOnly) {
    return { kind: 'broken', reason: 'a plaintext reply in safe mode' }
  }
  const reply = fieldsOf(xml)
  if (reply === null) return { kind: 'broken', reason: 'not a WeChat XML message' }
  if (reply.ToUserName !== fields.FromUserName || reply.FromUserName !== fields.ToUserName) {
    return { kind: 'broken', reason: 'the reply is not addressed to the sender, from the account' }
  }
  if (reply.MsgType !== 'text' || reply.Content === undefined || reply.Content === '') return { kind: 'broken', reason: 'not a text reply with content' }
  return { kind: 'text', content: reply.Content }
}

/** The encrypted reply's envelope fields, or null when the body is not one. */
function fieldsOfEnvelope (body: string): Readonly<Record<string, string>> | null {
  let parsed: unknown
  try {
    parsed = parseXml(body)
  } catch (error) {
    if (error instanceof XmlError) return null
    throw error
  }
  const root = (parsed as { xml?: unknown }).xml
  if (root === null || typeof root !== 'object' || typeof (root as Record<string, unknown>).Encrypt !== 'string') return null
  return root as Record<string, string>
}
