import { randomBytes } from 'node:crypto'
import type { MessageCrypto } from '../../src/wechat/crypto.js'

/**
 * What the webhook answers today, in every mode: "success" means "received, no passive reply", so
 * WeChat neither retries nor shows the user anything. It is not a passive reply, which is why it
 * is never encrypted, in safe mode included (WeChat's documentation allows it there too).
 */
export const ACK = 'success'

export interface TextReply {
  /** The user's openid: the FromUserName of the push being answered. */
  toUser: string
  /** The account's `gh_…` id: the ToUserName of the push being answered. */
  fromUser: string
  content: string
}

function cdata (value: string): string {
  // "]]>" cannot appear inside one CDATA section: close it and open another.
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`
}

/** A passive text reply, laid out as WeChat documents it (vector R1). */
export function textReplyXml ({ toUser, fromUser, content }: TextReply, createTimeSeconds: number): string {
  return `<xml><ToUserName>${cdata(toUser)}</ToUserName><FromUserName>${cdata(fromUser)}</FromUserName>` +
    `<CreateTime>${Math.floor(createTimeSeconds)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>${cdata(content)}</Content></xml>`
}

export interface PassiveReply {
  contentType: string
  body: string
}

/**
 * The one way to send a passive reply. No route sends one today (a login needs none: the page hears
 * of the scan over its socket); whoever adds one must go through here, so that an answer to an
 * encrypted push (compatible or safe mode) is encrypted and signed over our own timestamp and nonce
 * with the same token, never sent in plaintext.
 */
export function passiveReply (xml: string, push: { encrypted: boolean }, crypto: MessageCrypto | null, now: () => number = Date.now): PassiveReply {
  // charset=utf-8: without it WeChat may read the reply as GBK and garble Chinese.
  const contentType = 'application/xml; charset=utf-8'
  if (!push.encrypted) return { contentType, body: xml }
  if (crypto === null) throw new Error('an encrypted push was accepted without a message crypto')
  const timestamp = String(Math.floor(now() / 1000))
  const nonce = String(randomBytes(4).readUInt32BE(0))
  return { contentType, body: crypto.encryptedReply(xml, { timestamp, nonce }) }
}
