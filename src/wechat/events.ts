import type { ScanJob } from '../jobs/definitions.js'

/** A pushed message or event: every value exactly the string WeChat sent. */
export type WeChatMessage = Readonly<Record<string, string>>

const QR_SUBSCRIBE_PREFIX = 'qrscene_'

/**
 * Turns a parsed XML body into flat string fields, or null when it is not a WeChat push
 * (no <xml> root, nested structures where WeChat sends text, no MsgType).
 */
export function toWeChatMessage (parsed: unknown): WeChatMessage | null {
  if (parsed === null || typeof parsed !== 'object') return null
  const root = (parsed as Record<string, unknown>).xml
  if (root === null || typeof root !== 'object') return null
  const fields: Record<string, string> = Object.create(null)
  for (const [key, value] of Object.entries(root)) {
    if (typeof value === 'string') fields[key] = value
    else if (value !== null && typeof value === 'object') return null
  }
  if (fields.MsgType === undefined || fields.FromUserName === undefined || fields.ToUserName === undefined) return null
  return fields
}

/**
 * A QR scan of a parametric code: `subscribe` with EventKey "qrscene_<scene>" (first follow) or
 * `SCAN` with EventKey "<scene>". Anything else (plain follows, a follow after a payment, messages)
 * is null. The prefix is stripped once: a scene may itself start with "qrscene_".
 */
export function toScanJob (message: WeChatMessage): ScanJob | null {
  if (message.MsgType !== 'event') return null
  const { Event: event, EventKey: eventKey, FromUserName: openid, CreateTime: createTime } = message
  if (openid === undefined || openid === '' || createTime === undefined || eventKey === undefined) return null
  let scene: string
  if (event === 'subscribe') {
    if (!eventKey.startsWith(QR_SUBSCRIBE_PREFIX)) return null
    scene = eventKey.slice(QR_SUBSCRIBE_PREFIX.length)
  } else if (event === 'SCAN') {
    scene = eventKey
  } else {
    return null
  }
  if (scene === '') return null
  return { scene, openid, event, createTime }
}
