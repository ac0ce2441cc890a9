import { randomBytes } from 'node:crypto'

/** What WeChat answers (HTTP 200) when a call fails. */
export type WeChatErrorBody = {
  errcode: number
  errmsg: string
}

/** errmsg texts as WeChat writes them (Global_Return_Code); the rid suffix is added per answer. */
const MESSAGES: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40030: 'invalid refresh_token',
  40163: 'code been used',
  40014: 'invalid access_token',
  40053: 'invalid action info',
  40125: 'invalid appsecret',
  40164: 'invalid ip, not in whitelist',
  41001: 'access_token missing',
  41002: 'appid missing',
  41003: 'refresh_token missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  41009: 'missing openid',
  42001: 'access_token expired',
  42002: 'refresh_token expired',
  42003: 'code expired',
  43002: 'require POST method',
  44002: 'empty post data',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  47001: 'data format error',
  48001: 'api unauthorized',
  89503: 'this call needs the confirmation of the account administrator'
}

/** WeChat's request ids look like `6662d1b4-5c1a3b72-1e2f3a4b`; callers parse them out of errmsg. */
function newRid (): string {
  const hex = randomBytes(12).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 16)}-${hex.slice(16, 24)}`
}

export function wechatError (errcode: number, detail?: string): WeChatErrorBody {
  const text = MESSAGES[errcode] ?? 'unknown error'
  return { errcode, errmsg: `${detail === undefined ? text : `${text}, ${detail}`} rid: ${newRid()}` }
}

export type EmulatorErrorCode = 'unknown_ticket' | 'expired_ticket' | 'unknown_user' | 'push_failed' | 'no_webhook' | 'unsupported_mode'

/** A scan or push the emulator cannot perform; `code` is for callers, `message` for people. */
export class EmulatorError extends Error {
  readonly code: EmulatorErrorCode

  constructor (code: EmulatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'EmulatorError'
    this.code = code
  }
}
