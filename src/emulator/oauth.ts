import { createHash, randomBytes } from 'node:crypto'
import { secretMatches, sha256 } from '../login/tokens.js'
import { EmulatorError, wechatError } from './errors.js'
import type { TestUser } from './users.js'
import { deriveOpenid } from './users.js'

/**
 * WeChat's OAuth2 side for the emulator: the authorize pages (open.weixin.qq.com's
 * connect/oauth2/authorize for the Official Account, connect/qrconnect for a website app) and the
 * user-token APIs (api.weixin.qq.com's sns/*), with WeChat's error codes. Never in production.
 */

export const SNS_APIS = ['sns/oauth2/access_token', 'sns/oauth2/refresh_token', 'sns/userinfo'] as const
export type SnsApi = typeof SNS_APIS[number]

export interface OAuthAppCredentials {
  appId: string
  appSecret: string
}

export interface OAuthEmulatorOptions {
  /** The Official Account: its appid authorizes on connect/oauth2/authorize. */
  mp: OAuthAppCredentials
  /** A website app of the Open Platform: its appid authorizes on connect/qrconnect. None when absent. */
  open?: OAuthAppCredentials
  /** The emulator's test users (with their openids for the Official Account). */
  users: () => readonly TestUser[]
  now?: () => number
}

/** The two authorize pages. */
export type AuthorizePage = 'oauth2' | 'qrconnect'

export interface AuthorizeRequest {
  page: AuthorizePage
  appId: string
  redirectUri: string
  scope: string
  state: string
}

/** WeChat shows these on its own error page, without redirecting (codes of connect/oauth2/authorize). */
export interface AuthorizeRefusal {
  errcode: number
  message: string
}

export type AuthorizeCheck = { ok: true, request: AuthorizeRequest } | { ok: false, refusal: AuthorizeRefusal }

export interface OAuthCounters {
  /** Codes issued (consents, snsapi_base redirects). */
  codesIssued: number
  /** Requests to each sns API, whatever the answer. */
  codeExchanges: number
  refreshes: number
  userInfoCalls: number
}

export interface OAuthEmulator {
  readonly counters: OAuthCounters
  /** The openid (for the Official Account) of whoever holds the phone: snsapi_base authorizes as them, with no screen. */
  readonly phoneUser: string
  setPhoneUser (openid: string): void
  checkAuthorize (page: AuthorizePage, query: Readonly<Record<string, unknown>>): AuthorizeCheck
  /** The person (by their Official Account openid) authorized: WeChat's redirect, with a code. `snapshot`: preview only. */
  approve (request: AuthorizeRequest, openid: string, options?: { snapshot?: boolean }): string
  /** The person declined: WeChat's redirect with `state` only. */
  decline (request: AuthorizeRequest): string
  /** Answers one sns API call (HTTP 200, errors included). */
  handle (api: SnsApi, query: Readonly<Record<string, unknown>>): Record<string, unknown>
  /** The next `times` calls of `api` answer `errcode` (e.g. -1 busy). */
  failNext (api: SnsApi, errcode: number, times?: number): void
  /** Every user access token issued so far answers 42001 (expired). */
  expireAccessTokens (): void
  /** Every refresh token issued so far answers 40030 (invalid), as after the user revoked the authorization. */
  revokeRefreshTokens (): void
  /** The user-facing record of a code, for tests (null when unknown). */
  findCode (code: string): { used: boolean, expired: boolean } | null
  reset (): void
}

/** The Official Account's codes live 5 minutes; a website app's 10. */
const CODE_LIFETIME_MS: Readonly<Record<AuthorizePage, number>> = { oauth2: 5 * 60_000, qrconnect: 10 * 60_000 }
const ACCESS_TOKEN_SECONDS = 7200
const REFRESH_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000
const PAGE_SCOPES: Readonly<Record<AuthorizePage, readonly string[]>> = {
  oauth2: ['snsapi_base', 'snsapi_userinfo'],
  qrconnect: ['snsapi_login']
}
const STATE_PATTERN = /^[A-Za-z0-9]{0,128}$/

interface Grant {
  appId: string
  openid: string
  unionid: string | null
  nickname: string
  headimgurl: string
  scope: string
  snapshot: boolean
}

interface CodeRecord extends Grant {
  expiresAt: number
  used: boolean
}

interface AccessTokenRecord extends Grant {
  expiresAt: number
}

interface RefreshTokenRecord extends Grant {
  expiresAt: number
  accessToken: string
}

function asString (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function token (): string {
  return randomBytes(36).toString('base64url')
}

/** A WeChat-looking avatar URL that belongs to no one (the emulator serves no images). */
function avatarOf (openid: string): string {
  return `https://thirdwx.qlogo.cn/mmopen/vi_32/emulator-${createHash('sha256').update(openid).digest('hex').slice(0, 24)}/132`
}

export function createOAuthEmulator ({ mp, open, users, now = Date.now }: OAuthEmulatorOptions): OAuthEmulator {
  const counters: OAuthCounters = { codesIssued: 0, codeExchanges: 0, refreshes: 0, userInfoCalls: 0 }
  let codes = new Map<string, CodeRecord>()
  let accessTokens = new Map<string, AccessTokenRecord>()
  let refreshTokens = new Map<string, RefreshTokenRecord>()
  let failures = new Map<SnsApi, number[]>()
  let phoneUser: string | null = null

  function appOf (appId: unknown): (OAuthAppCredentials & { page: AuthorizePage }) | null {
    if (appId === mp.appId) return { ...mp, page: 'oauth2' }
    if (open !== undefined && appId === open.appId) return { ...open, page: 'qrconnect' }
    return null
  }

  function person (openid: string): { user: TestUser, index: number } {
    const all = users()
    const index = all.findIndex((user) => user.openid === openid)
    const user = all[index]
    if (user === undefined) throw new EmulatorError('unknown_user', `no test user has the openid ${openid}`)
    return { user, index }
  }

  /** openids are per app: the Official Account's are the emulator's; a website app's are derived. */
  function grantFor (appId: string, openid: string, scope: string, snapshot: boolean): Grant {
    const { user, index } = person(openid)
    if (snapshot) {
      // A snapshot visitor gets a virtual openid and no unionid: not the person at all.
      const virtual = deriveOpenid(`snapshot:${appId}`, user.nickname, index)
      return { appId, openid: virtual, unionid: null, nickname: '', headimgurl: '', scope, snapshot }
    }
    const appOpenid = appId === mp.appId ? user.openid : deriveOpenid(appId, user.nickname, index)
    return { appId, openid: appOpenid, unionid: user.unionid, nickname: user.nickname, headimgurl: avatarOf(appOpenid), scope, snapshot }
  }

  function checkCredentials (appid: unknown, secret: unknown): Record<string, unknown> | null {
    if (typeof appid !== 'string' || appid === '') return wechatError(41002)
    const app = appOf(appid)
    if (app === null) return wechatError(40013)
    if (typeof secret !== 'string' || secret === '') return wechatError(41004)
    if (!secretMatches(sha256(app.appSecret), secret)) return wechatError(40125)
    return null
  }

  function tokenAnswer (grant: Grant, accessToken: string, refreshToken: string, expiresAt: number): Record<string, unknown> {
    const readsProfile = grant.scope !== 'snsapi_base'
    return {
      access_token: accessToken,
      expires_in: Math.max(0, Math.round((expiresAt - now()) / 1000)),
      refresh_token: refreshToken,
      openid: grant.openid,
      scope: grant.scope,
      ...(grant.snapshot ? { is_snapshotuser: 1 } : {}),
      ...(readsProfile && grant.unionid !== null ? { unionid: grant.unionid } : {})
    }
  }

  function exchangeCode (query: Readonly<Record<string, unknown>>): Record<string, unknown> {
    if (query.grant_type !== 'authorization_code') return wechatError(40002)
    const refused = checkCredentials(query.appid, query.secret)
    if (refused !== null) return refused
    const code = asString(query.code)
    if (code === undefined || code === '') return wechatError(41008)
    const record = codes.get(code)
    if (record === undefined || record.appId !== query.appid) return wechatError(40029)
    if (record.used) return wechatError(40163)
    if (record.expiresAt <= now()) return wechatError(42003)
    record.used = true
    const accessToken = token()
    const refreshToken = token()
    const expiresAt = now() + ACCESS_TOKEN_SECONDS * 1000
    const grant: Grant = { ...record }
    accessTokens.set(accessToken, { ...grant, expiresAt })
    refreshTokens.set(refreshToken, { ...grant, expiresAt: now() + REFRESH_TOKEN_LIFETIME_MS, accessToken })
    return tokenAnswer(grant, accessToken, refreshToken, expiresAt)
  }

  function refresh (query: Readonly<Record<string, unknown>>): Record<string, unknown> {
    if (query.grant_type !== 'refresh_token') return wechatError(40002)
    const appid = asString(query.appid)
    if (appid === undefined || appid === '') return wechatError(41002)
    if (appOf(appid) === null) return wechatError(40013)
    const refreshToken = asString(query.refresh_token)
    if (refreshToken === undefined || refreshToken === '') return wechatError(41003)
    const record = refreshTokens.get(refreshToken)
    if (record === undefined || record.appId !== appid) return wechatError(40030)
    if (record.expiresAt <= now()) return wechatError(42002)
    // "Refreshing an unexpired token keeps it and extends its lifetime"; an expired one is replaced.
    const expiresAt = now() + ACCESS_TOKEN_SECONDS * 1000
    const current = accessTokens.get(record.accessToken)
    if (current !== undefined && current.expiresAt > now()) {
      current.expiresAt = expiresAt
    } else {
      accessTokens.delete(record.accessToken)
      record.accessToken = token()
      accessTokens.set(record.accessToken, { ...record, expiresAt })
    }
    return tokenAnswer(record, record.accessToken, refreshToken, expiresAt)
  }

  function userInfo (query: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const accessToken = asString(query.access_token)
    if (accessToken === undefined || accessToken === '') return wechatError(41001)
    const record = accessTokens.get(accessToken)
    if (record === undefined) return wechatError(40001)
    if (record.expiresAt <= now()) return wechatError(42001)
    const openid = asString(query.openid)
    if (openid === undefined || openid === '') return wechatError(41009)
    if (openid !== record.openid) return wechatError(40003)
    if (record.scope === 'snsapi_base') return wechatError(48001)
    // No sex or region since 2021-10-20: WeChat sends 0 and empty strings.
    return {
      openid: record.openid,
      nickname: record.nickname,
      sex: 0,
      province: '',
      city: '',
      country: '',
      headimgurl: record.headimgurl,
      privilege: [],
      ...(record.unionid === null ? {} : { unionid: record.unionid })
    }
  }

  const answer: Record<SnsApi, (query: Readonly<Record<string, unknown>>) => Record<string, unknown>> = {
    'sns/oauth2/access_token': exchangeCode,
    'sns/oauth2/refresh_token': refresh,
    'sns/userinfo': userInfo
  }

  function count (api: SnsApi): void {
    if (api === 'sns/oauth2/access_token') counters.codeExchanges++
    else if (api === 'sns/oauth2/refresh_token') counters.refreshes++
    else counters.userInfoCalls++
  }

  function redirect (request: AuthorizeRequest, params: Record<string, string>): string {
    const url = new URL(request.redirectUri)
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
    return url.toString()
  }

  return {
    get counters () {
      return { ...counters }
    },

    get phoneUser () {
      return phoneUser ?? users()[0]?.openid ?? ''
    },

    setPhoneUser (openid) {
      phoneUser = person(openid).user.openid
    },

    checkAuthorize (page, query) {
      const refuse = (errcode: number, message: string): AuthorizeCheck => ({ ok: false, refusal: { errcode, message } })
      const appId = asString(query.appid) ?? ''
      const redirectUri = asString(query.redirect_uri) ?? ''
      const scope = asString(query.scope) ?? ''
      const state = asString(query.state) ?? ''
      if (scope === '') return refuse(10010, 'scope 参数错误 (scope is empty)')
      if (redirectUri === '') return refuse(10011, 'redirect_uri 参数错误 (redirect_uri is empty)')
      if (appId === '') return refuse(10012, 'appid 参数错误 (appid is empty)')
      const app = appOf(appId)
      if (app === null) return refuse(10012, 'appid 参数错误 (unknown appid)')
      if (app.page !== page) {
        return page === 'oauth2'
          ? refuse(10016, '不支持开放平台 appid (a website app cannot use connect/oauth2/authorize)')
          : refuse(10012, 'appid 参数错误 (not a website app: connect/qrconnect needs one)')
      }
      if (!STATE_PATTERN.test(state)) return refuse(10013, 'state 参数错误 (only a-zA-Z0-9, at most 128 bytes)')
      let target: URL
      try {
        target = new URL(redirectUri)
      } catch {
        return refuse(10003, 'redirect_uri 域名与后台配置不一致 (not an absolute URL)')
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') return refuse(10003, 'redirect_uri 域名与后台配置不一致 (not http or https)')
      if (query.response_type !== 'code') return refuse(10004, 'response_type 参数错误 (must be code)')
      if (!PAGE_SCOPES[page].includes(scope)) return refuse(10005, `此公众号/应用并没有这些 scope 的权限 (${page} takes ${PAGE_SCOPES[page].join(' or ')})`)
      return { ok: true, request: { page, appId, redirectUri, scope, state } }
    },

    approve (request, openid, { snapshot = false } = {}) {
      // Only an snsapi_userinfo consent can be a snapshot preview.
      const grant = grantFor(request.appId, openid, request.scope, snapshot && request.scope === 'snsapi_userinfo')
      const code = token()
      codes.set(code, { ...grant, expiresAt: now() + CODE_LIFETIME_MS[request.page], used: false })
      counters.codesIssued++
      return redirect(request, { code, state: request.state })
    },

    decline (request) {
      return redirect(request, { state: request.state })
    },

    handle (api, query) {
      count(api)
      const queued = failures.get(api)
      const errcode = queued?.shift()
      if (errcode !== undefined) return wechatError(errcode)
      return answer[api](query)
    },

    failNext (api, errcode, times = 1) {
      if (!Number.isInteger(errcode) || errcode === 0) throw new RangeError('errcode must be a non-zero integer')
      failures.set(api, [...(failures.get(api) ?? []), ...Array.from({ length: times }, () => errcode)])
    },

    expireAccessTokens () {
      for (const record of accessTokens.values()) record.expiresAt = Math.min(record.expiresAt, now())
    },

    revokeRefreshTokens () {
      refreshTokens = new Map()
    },

    findCode (code) {
      const record = codes.get(code)
      return record === undefined ? null : { used: record.used, expired: record.expiresAt <= now() }
    },

    reset () {
      codes = new Map()
      accessTokens = new Map()
      refreshTokens = new Map()
      failures = new Map()
      phoneUser = null
      for (const key of Object.keys(counters) as Array<keyof OAuthCounters>) counters[key] = 0
    }
  }
}
