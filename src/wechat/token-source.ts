import type { Dispatcher } from 'undici'
import type { Log } from '../log.js'
import { WeChatTransportError } from './errors.js'
import { checkErrcode, requestJson, type WeChatHttp } from './http.js'
import { withRetry, type RetryPolicy } from './retry.js'

export interface FetchedToken {
  access_token: string
  expires_in: number
}

/**
 * Where access tokens come from. `stable`: cgi-bin/stable_token, `force` honoured; `legacy`:
 * cgi-bin/token, where every fetch replaces the previous token (so every fetch is a forced one);
 * `central`: the company's own token service (WECHAT_TOKEN_URL), never forced.
 */
export interface TokenSource {
  readonly kind: 'stable' | 'legacy' | 'central'
  fetch (force: boolean): Promise<FetchedToken>
}

export function stableTokenSource (http: WeChatHttp, appId: string, appSecret: string): TokenSource {
  return {
    kind: 'stable',
    async fetch (force) {
      return checkToken('stable_token', await fetchStableToken(http, appId, appSecret, force))
    }
  }
}

export function legacyTokenSource (http: WeChatHttp, appId: string, appSecret: string): TokenSource {
  return {
    kind: 'legacy',
    async fetch () {
      // The secret travels in the query: http.ts never logs URLs, and neither does anything else.
      return checkToken('token', await http<FetchedToken>({
        api: 'token',
        method: 'GET',
        path: '/cgi-bin/token',
        query: { grant_type: 'client_credential', appid: appId, secret: appSecret }
      }))
    }
  }
}

export function fetchStableToken (http: WeChatHttp, appId: string, appSecret: string, forceRefresh: boolean): Promise<FetchedToken> {
  return http<FetchedToken>({
    api: 'stable_token',
    method: 'POST',
    path: '/cgi-bin/stable_token',
    body: { grant_type: 'client_credential', appid: appId, secret: appSecret, force_refresh: forceRefresh }
  })
}

export interface CentralTokenSourceOptions {
  /** WECHAT_TOKEN_URL. Credentials in it (https://user:password@host/…) are sent as HTTP Basic. */
  url: string
  dispatcher: Dispatcher
  timeoutMs: number
  retry?: RetryPolicy
  log?: Log
}

/**
 * `GET WECHAT_TOKEN_URL` → any 2xx with `{"access_token": "…", "expires_in": N}` (N = seconds the
 * token has left). Anything else is an error; a WeChat-style `{"errcode": N}` is a WeChatApiError.
 */
export function centralTokenSource ({ url, dispatcher, timeoutMs, retry, log }: CentralTokenSourceOptions): TokenSource {
  const target = new URL(url)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (target.username !== '' || target.password !== '') {
    const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`
    target.username = ''
    target.password = ''
  }
  const api = 'token_url'
  const once = async () => {
    const payload = await requestJson(api, target, {
      method: 'GET',
      dispatcher,
      timeoutMs,
      headers,
      okStatus: (status) => status >= 200 && status < 300
    })
    return checkToken(api, checkErrcode(api, payload))
  }
  return {
    kind: 'central',
    fetch () {
      return retry === undefined ? once() : withRetry(once, retry, { api, log })
    }
  }
}

/** A token answer without a usable token is a broken answer, not a token. */
function checkToken (api: string, payload: unknown): FetchedToken {
  const { access_token: token, expires_in: expiresIn } = payload as Partial<Record<keyof FetchedToken, unknown>>
  if (typeof token !== 'string' || token === '') throw new WeChatTransportError(api, 'bad_response', 'no access_token')
  const seconds = typeof expiresIn === 'string' ? Number(expiresIn) : expiresIn
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new WeChatTransportError(api, 'bad_response', 'no positive expires_in')
  }
  return { access_token: token, expires_in: seconds }
}
