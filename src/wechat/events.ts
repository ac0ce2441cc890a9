/** A pushed message or event: every value exactly the string WeChat sent. */
export type WeChatMessage = Readonly<Record<string, string>>

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
