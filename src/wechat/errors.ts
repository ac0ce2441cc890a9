/** WeChat answered with a non-zero errcode. Callers branch on `errcode`, never on the message. */
export class WeChatApiError extends Error {
  readonly errcode: number
  readonly errmsg: string
  readonly rid: string | undefined
  readonly api: string

  constructor (api: string, errcode: number, errmsg: string) {
    super(`WeChat ${api} failed: errcode ${errcode} (${errmsg})`)
    this.name = 'WeChatApiError'
    this.api = api
    this.errcode = errcode
    this.errmsg = errmsg
    this.rid = /rid: ([\w-]+)/.exec(errmsg)?.[1]
  }
}

export type TransportFailure = 'timeout' | 'network' | 'http_status' | 'bad_response'

/** WeChat could not be reached or said something that is not its JSON. Never carries the URL (it holds the token). */
export class WeChatTransportError extends Error {
  readonly api: string
  readonly failure: TransportFailure
  /** The HTTP status, for `http_status` failures. */
  readonly status: number | undefined

  constructor (api: string, failure: TransportFailure, detail: string, status?: number) {
    super(`WeChat ${api} unreachable: ${failure} (${detail})`)
    this.name = 'WeChatTransportError'
    this.api = api
    this.failure = failure
    this.status = status
  }
}

/** errcodes meaning "the access token you sent is not (or no longer) valid". */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001])

/** The token was replaced or revoked (not merely expired): the case `force_refresh` exists for. */
export const TOKEN_INVALIDATED_ERRCODES: ReadonlySet<number> = new Set([40001, 40014])

export function isTokenError (error: unknown): error is WeChatApiError {
  return error instanceof WeChatApiError && TOKEN_ERRCODES.has(error.errcode)
}

const ADVICE: Readonly<Record<number, string>> = {
  [-1]: 'WeChat was busy and stayed busy until WECHAT_RETRY_DEADLINE_MS; try again shortly',
  40001: 'WeChat rejected the access token even after a refresh: another server or environment is probably fetching tokens for this AppID (cgi-bin/token or force_refresh). Let every service share one token: this service\'s Redis, or WECHAT_TOKEN_URL',
  40014: 'WeChat rejected the access token even after a refresh: another server or environment is probably fetching tokens for this AppID. Let every service share one token: this service\'s Redis, or WECHAT_TOKEN_URL',
  42001: 'the access token expired and a new one was rejected too: check the server clock, and that nothing else fetches tokens for this AppID',
  40002: 'WeChat refused grant_type: report this as a bug of wechat-qr-login',
  40013: 'WeChat does not know this AppID: check WECHAT_APP_ID (设置与开发 → 基本配置 → 开发者ID(AppID))',
  40125: 'WeChat refused the AppSecret: check WECHAT_APP_SECRET (it changes whenever someone resets it in 设置与开发 → 基本配置)',
  40164: 'this server\'s egress IP is not whitelisted: add it in the WeChat console, 设置与开发 → 基本配置 → IP白名单 (WeChat\'s errmsg names the IP it saw; behind HTTPS_PROXY it is the proxy\'s)',
  89503: 'this server\'s IP awaits the account administrator\'s confirmation in WeChat; a refusal blocks the IP for an hour. Add it to 设置与开发 → 基本配置 → IP白名单 to skip the question',
  45009: 'the daily API quota of this account is used up: calls fail until it resets at midnight (Beijing time). The console (设置与开发 → 接口权限) shows the quota; a verified account can clear it a few times a month',
  45011: 'WeChat\'s per-minute limit was reached: calls work again next minute',
  48001: 'this Official Account lacks permission for this API: parametric QR codes and user info need a verified service account (设置与开发 → 接口权限)',
  43002: 'WeChat wanted another HTTP method: report this as a bug of wechat-qr-login',
  41001: 'the call carried no access token: report this as a bug of wechat-qr-login'
}

/** An operator-facing hint for an errcode (what to change, and where), or undefined when there is none. */
export function errcodeAdvice (errcode: number): string | undefined {
  return ADVICE[errcode]
}
