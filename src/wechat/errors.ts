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

  constructor (api: string, failure: TransportFailure, detail: string) {
    super(`WeChat ${api} unreachable: ${failure} (${detail})`)
    this.name = 'WeChatTransportError'
    this.api = api
    this.failure = failure
  }
}

/** errcodes meaning "the access token you sent is not (or no longer) valid". */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001])

export function isTokenError (error: unknown): error is WeChatApiError {
  return error instanceof WeChatApiError && TOKEN_ERRCODES.has(error.errcode)
}
