import { request, type Dispatcher } from 'undici'
import type { Log } from '../log.js'
import { WeChatApiError, WeChatTransportError } from './errors.js'
import { withRetry, type RetryPolicy } from './retry.js'

export interface WeChatHttpOptions {
  /** Resolved per call: the emulator's address is only known once the server listens. */
  baseUrl: () => string
  /** Each attempt's limit (WECHAT_TIMEOUT_MS). */
  timeoutMs: number
  dispatcher: Dispatcher
  /** -1 and transport failures are retried with backoff within this policy; absent: one attempt. */
  retry?: RetryPolicy
  log?: Log
  /** Told of every attempt: the API and "0" when WeChat answered, else its errcode or the transport failure (`timeout`…). */
  onAttempt?: (api: string, errcode: string) => void
}

export interface WeChatCall {
  /** Short name for errors and logs, e.g. "qrcode/create"; the URL is never logged (it holds the token). */
  api: string
  method: 'GET' | 'POST'
  path: string
  query?: Record<string, string>
  body?: unknown
}

export type WeChatHttp = <T>(call: WeChatCall) => Promise<T>

/**
 * Every call to WeChat goes through here: one timeout per attempt, the retry policy, and WeChat's
 * way of failing (HTTP 200 with {"errcode": N}; a missing or zero errcode is success).
 */
export function createWeChatHttp ({ baseUrl, timeoutMs, dispatcher, retry, log, onAttempt }: WeChatHttpOptions): WeChatHttp {
  return async function call<T> ({ api, method, path, query, body }: WeChatCall): Promise<T> {
    const attempt = async () => {
      const url = new URL(path.replace(/^\//, ''), withTrailingSlash(baseUrl()))
      for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value)
      const payload = await requestJson(api, url, {
        method,
        dispatcher,
        timeoutMs,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        okStatus: (status) => status === 200
      })
      return checkErrcode(api, payload) as T
    }
    const once = onAttempt === undefined
      ? attempt
      : () => attempt().then((answer) => { onAttempt(api, '0'); return answer }, (error: unknown) => { onAttempt(api, failureLabel(error)); throw error })
    return retry === undefined ? once() : withRetry(once, retry, { api, log })
  }
}

export interface JsonRequest {
  method: 'GET' | 'POST'
  dispatcher: Dispatcher
  timeoutMs: number
  headers: Record<string, string>
  body?: string
  okStatus: (status: number) => boolean
}

/** One HTTP exchange that must answer a JSON object; failures become WeChatTransportError without the URL. */
export async function requestJson (api: string, url: URL, { method, dispatcher, timeoutMs, headers, body, okStatus }: JsonRequest): Promise<Record<string, unknown>> {
  let response: Dispatcher.ResponseData
  try {
    response = await request(url, { method, dispatcher, signal: AbortSignal.timeout(timeoutMs), headers, body })
  } catch (error) {
    throw transportFailure(api, error)
  }

  let text: string
  try {
    text = await response.body.text()
  } catch (error) {
    throw transportFailure(api, error)
  }
  if (!okStatus(response.statusCode)) {
    throw new WeChatTransportError(api, 'http_status', `HTTP ${response.statusCode}`, response.statusCode)
  }

  let payload: unknown
  try {
    payload = JSON.parse(text)
  } catch {
    throw new WeChatTransportError(api, 'bad_response', 'not JSON')
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new WeChatTransportError(api, 'bad_response', 'not an object')
  }
  return payload as Record<string, unknown>
}

/** WeChat's errors are answers, not HTTP statuses. */
export function checkErrcode (api: string, payload: Record<string, unknown>): Record<string, unknown> {
  const { errcode, errmsg } = payload
  if (errcode !== undefined && errcode !== 0) {
    throw new WeChatApiError(api, Number(errcode), String(errmsg ?? ''))
  }
  return payload
}

function failureLabel (error: unknown): string {
  if (error instanceof WeChatApiError) return String(error.errcode)
  if (error instanceof WeChatTransportError) return error.failure
  return 'error'
}

function transportFailure (api: string, error: unknown): WeChatTransportError {
  const name = (error as Error).name
  const failure = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network'
  // The code (ECONNRESET, UND_ERR_SOCKET…) and never the message: undici's messages may quote the URL.
  return new WeChatTransportError(api, failure, (error as { code?: string }).code ?? name)
}

function withTrailingSlash (base: string): string {
  return base.endsWith('/') ? base : `${base}/`
}
