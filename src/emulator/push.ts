import { randomInt } from 'node:crypto'
import { request, type Dispatcher } from 'undici'
import type { MessageCrypto } from '../wechat/crypto.js'
import { wechatSignature } from '../wechat/signature.js'
import { EmulatorError } from './errors.js'
import { readPassiveReply, type PhoneMessage } from './reply.js'

/** Strings go out in CDATA, numbers (CreateTime, MsgId as bigint) bare, as WeChat writes them. */
export type PushFields = Readonly<Record<string, string | number | bigint>>

/**
 * The three message modes of the Official Account console. plaintext: the fields as XML;
 * compatible: the same plus <Encrypt>; safe: only ToUserName and <Encrypt>. The last two add
 * `encrypt_type=aes&msg_signature=…` to the query.
 */
export type PushMode = 'plaintext' | 'compatible' | 'safe'
export const PUSH_MODES: readonly PushMode[] = ['plaintext', 'compatible', 'safe']

export function isPushMode (value: unknown): value is PushMode {
  return typeof value === 'string' && (PUSH_MODES as readonly string[]).includes(value)
}

/** One webhook request exactly as sent, so it can be sent again byte for byte (WeChat's retries). */
export interface WeChatPush {
  /** Webhook URL including the signed query. */
  url: string
  /** The raw query: signature, timestamp, nonce, openid (and encrypt_type, msg_signature when encrypted). */
  query: string
  /** The raw XML body. */
  body: string
  /** The message's fields as strings, before any encryption, for assertions. */
  fields: Readonly<Record<string, string>>
  mode: PushMode
}

export interface PushResult {
  /** HTTP status of the webhook's answer. */
  status: number
  /** The webhook's answer body ("success" when it took the event). */
  body: string
  push: WeChatPush
  /** What the user's phone shows for the answer (a passive reply's text), read as WeChat reads it. */
  reply: PhoneMessage
}

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*$/

function cdata (value: string): string {
  // "]]>" cannot appear inside one CDATA section: close it and open another.
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`
}

/** The XML of a push, laid out like WeChat's documentation examples. */
function pushXml (fields: PushFields): string {
  const lines = Object.entries(fields).map(([name, value]) => {
    if (!FIELD_NAME.test(name)) throw new TypeError(`not an XML element name: ${name}`)
    return `<${name}>${typeof value === 'string' ? cdata(value) : String(value)}</${name}>`
  })
  return `<xml>\n${lines.join('\n')}\n</xml>`
}

export interface PushSigning {
  /** The webhook Token. */
  token: string
  /** The sender, added to the query as WeChat does; absent for pushes without a user. */
  openid?: string
  nowMs: number
  mode: PushMode
  /** Required for compatible and safe mode. */
  crypto?: MessageCrypto | null
}

/**
 * signature = sha1 over sorted [token, timestamp, nonce], in every mode; encrypted modes add
 * msg_signature over [token, timestamp, nonce, Encrypt] with the same timestamp and nonce.
 * Query order as WeChat sends it: signature, timestamp, nonce, openid, encrypt_type, msg_signature.
 */
export function buildPush (webhookUrl: string, { token, openid, nowMs, mode, crypto }: PushSigning, fields: PushFields): WeChatPush {
  const timestamp = String(Math.floor(nowMs / 1000))
  const nonce = String(randomInt(100_000_000, 2_147_483_647))
  const params = new URLSearchParams({ signature: wechatSignature([token, timestamp, nonce]), timestamp, nonce })
  if (openid !== undefined) params.set('openid', openid)
  const plainXml = pushXml(fields)
  let body = plainXml
  if (mode !== 'plaintext') {
    if (crypto === undefined || crypto === null) throw new TypeError(`${mode} mode needs an EncodingAESKey`)
    const { encrypt, msgSignature } = crypto.encrypt(plainXml, { timestamp, nonce })
    params.set('encrypt_type', 'aes')
    params.set('msg_signature', msgSignature)
    const toUser = fields.ToUserName ?? ''
    body = mode === 'safe' ? pushXml({ ToUserName: toUser, Encrypt: encrypt }) : pushXml({ ...fields, Encrypt: encrypt })
  }
  const query = params.toString()
  const separator = webhookUrl.includes('?') ? '&' : '?'
  const strings = Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, String(value)]))
  return { url: `${webhookUrl}${separator}${query}`, query, body, fields: strings, mode }
}

/** A push the webhook did not take: `push` is what WeChat would send again (`Emulator.replay`). */
export class PushFailed extends EmulatorError {
  constructor (message: string, readonly push: WeChatPush, options: { cause: unknown }) {
    super('push_failed', message, options)
  }
}

/** POSTs a push like WeChat does: text/xml, and no answer within the deadline counts as a failure. */
export async function sendPush (push: WeChatPush, { dispatcher, timeoutMs, crypto }: { dispatcher: Dispatcher, timeoutMs: number, crypto: MessageCrypto | null }): Promise<PushResult> {
  const target = push.url.split('?')[0]
  try {
    const response = await request(push.url, {
      method: 'POST',
      dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'content-type': 'text/xml', 'user-agent': 'Mozilla/4.0', accept: '*/*' },
      body: push.body
    })
    const body = await response.body.text()
    // WeChat reads a reply only from a 200; anything else is a failed delivery, not a message.
    const reply: PhoneMessage = response.statusCode === 200 ? readPassiveReply(body, { fields: push.fields, encrypted: push.mode !== 'plaintext', encryptedOnly: push.mode === 'safe', crypto }) : { kind: 'none' }
    return { status: response.statusCode, body, push, reply }
  } catch (error) {
    const name = (error as Error).name
    const reason = name === 'TimeoutError' || name === 'AbortError'
      ? `no answer within ${timeoutMs} ms`
      : (error as { code?: string }).code ?? (error as Error).message
    throw new PushFailed(`could not push to the webhook ${target}: ${reason}`, push, { cause: error })
  }
}
