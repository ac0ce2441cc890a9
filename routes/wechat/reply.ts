import { randomBytes } from 'node:crypto'
import type { MessageCrypto } from '../../src/wechat/crypto.js'
import type { WeChatMessage } from '../../src/wechat/events.js'

export interface PassiveReply {
  contentType: string
  body: string
}

function cdata (value: string): string {
  // "]]>" cannot appear inside one CDATA section: close it and open another.
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`
}

/**
 * A passive text reply to `push`, laid out as WeChat documents it (vector R1): to the user who
 * sent the push, from the account it was sent to.
 */
export function textReplyXml (push: WeChatMessage, content: string, createTimeSeconds: number): string {
  return `<xml><ToUserName>${cdata(push.FromUserName ?? '')}</ToUserName><FromUserName>${cdata(push.ToUserName ?? '')}</FromUserName>` +
    `<CreateTime>${Math.floor(createTimeSeconds)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>${cdata(content)}</Content></xml>`
}

/**
 * The one way to send a passive reply: an answer to an encrypted push (compatible or safe mode) is
 * encrypted and signed over our own timestamp and nonce with the same token, never sent in plaintext.
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

/**
 * What the scanner's phone shows after a scan in confirm mode (LOGIN_REQUIRE_CONFIRM): the link to
 * the confirmation page. The same for every delivery of one scan: WeChat re-sends a push only when
 * our answer did not reach it in time, so the phone shows the answer to one delivery, and it
 * carries this one link.
 */
export function confirmLinkText (link: string): string {
  return `你正在扫码登录网站。\n<a href="${link}">点此确认或拒绝登录</a>\n\nYou scanned to log in to a website. Tap the link to confirm or deny.`
}
