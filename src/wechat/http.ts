import { request, type Dispatcher } from 'undici'
import { WeChatApiError, WeChatTransportError } from './errors.js'

export interface WeChatHttpOptions {
  /** Resolved per call: the emulator's address is only known once the server listens. */
  baseUrl: () => string
  timeoutMs: number
  dispatcher: Dispatcher
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
 * WeChat answers errors as HTTP 200 with {"errcode": N}; a missing or zero errcode is success.
 */
export function createWeChatHttp ({ baseUrl, timeoutMs, dispatcher }: WeChatHttpOptions): WeChatHttp {
  return async function call<T> ({ api, method, path, query, body }: WeChatCall): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), withTrailingSlash(baseUrl()))
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value)

    let response: Dispatcher.ResponseData
    try {
      response = await request(url, {
        method,
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
    } catch (error) {
      const name = (error as Error).name
      const failure = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network'
      throw new WeChatTransportError(api, failure, (error as { code?: string }).code ?? name)
    }

    let text: string
    try {
      text = await response.body.text()
    } catch (error) {
      throw new WeChatTransportError(api, 'network', (error as Error).name)
    }
    if (response.statusCode !== 200) {
      throw new WeChatTransportError(api, 'http_status', `HTTP ${response.statusCode}`)
    }

    let payload: unknown
    try {
      payload = JSON.parse(text)
    } catch {
      throw new WeChatTransportError(api, 'bad_response', 'not JSON')
    }
    if (payload === null || typeof payload !== 'object') {
      throw new WeChatTransportError(api, 'bad_response', 'not an object')
    }
    const { errcode, errmsg } = payload as { errcode?: unknown, errmsg?: unknown }
    if (errcode !== undefined && errcode !== 0) {
      throw new WeChatApiError(api, Number(errcode), String(errmsg ?? ''))
    }
    return payload as T
  }
}

function withTrailingSlash (base: string): string {
  return base.endsWith('/') ? base : `${base}/`
}
