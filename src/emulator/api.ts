import { safeEqual } from '../util/constant-time.js'
import { wechatError, type WeChatErrorBody } from './errors.js'
import type { EmulatedApi } from './faults.js'
import { parseQrCodeRequest, type QrCodeStore } from './qrcodes.js'
import type { TokenIssuer } from './tokens.js'
import type { ApiRequest } from './types.js'
import type { UserState } from './users.js'

export type ApiHandler = (request: ApiRequest) => Record<string, unknown>

export interface ApiOptions {
  appId: string
  appSecret: string
  tokens: TokenIssuer
  qrCodes: QrCodeStore
  findUser: (openid: string) => UserState | undefined
}

function asString (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** WeChat accepts the JSON whatever the content type; the routes hand over text when it was not parsed. */
function jsonBody (body: unknown): Record<string, unknown> | WeChatErrorBody {
  let value = body
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = body.toString()
    if (text.trim() === '') return wechatError(44002)
    try {
      value = JSON.parse(text)
    } catch {
      return wechatError(47001)
    }
  }
  if (value === undefined || value === null) return wechatError(44002)
  if (typeof value !== 'object' || Array.isArray(value)) return wechatError(47001)
  return value as Record<string, unknown>
}

function isError (value: object): value is WeChatErrorBody {
  return 'errcode' in value
}

/** The answers of the four emulated APIs (faults aside), with WeChat's checks in WeChat's order. */
export function createApiHandlers ({ appId, appSecret, tokens, qrCodes, findUser }: ApiOptions): Record<EmulatedApi, ApiHandler> {
  /** grant_type, then appid, then secret, as WeChat checks them. */
  function checkCredentials (grantType: unknown, appid: unknown, secret: unknown): WeChatErrorBody | null {
    if (grantType !== 'client_credential') return wechatError(40002)
    if (typeof appid !== 'string' || appid === '') return wechatError(41002)
    if (appid !== appId) return wechatError(40013)
    if (typeof secret !== 'string' || secret === '') return wechatError(41004)
    if (!safeEqual(appSecret, secret)) return wechatError(40125)
    return null
  }

  /** GET cgi-bin/token */
  function legacyToken (request: ApiRequest): Record<string, unknown> {
    const { grant_type: grantType, appid, secret } = request.query
    return checkCredentials(grantType, appid, secret) ?? tokens.legacy()
  }

  /** POST cgi-bin/stable_token */
  function stableToken (request: ApiRequest): Record<string, unknown> {
    if (request.method !== 'POST') return wechatError(43002)
    const body = jsonBody(request.body)
    if (isError(body)) return body
    return checkCredentials(body.grant_type, body.appid, body.secret) ?? tokens.stable(body.force_refresh === true)
  }

  /** POST cgi-bin/qrcode/create */
  function createQrCode (request: ApiRequest): Record<string, unknown> {
    const tokenError = tokens.check(request.query.access_token)
    if (tokenError !== null) return tokenError
    if (request.method !== 'POST') return wechatError(43002)
    const body = jsonBody(request.body)
    if (isError(body)) return body
    const parsed = parseQrCodeRequest(body)
    if (isError(parsed)) return parsed
    const code = qrCodes.create(parsed)
    return code.expireSeconds === null
      ? { ticket: code.ticket, url: code.url }
      : { ticket: code.ticket, expire_seconds: code.expireSeconds, url: code.url }
  }

  /** GET cgi-bin/user/info */
  function userInfo (request: ApiRequest): Record<string, unknown> {
    const tokenError = tokens.check(request.query.access_token)
    if (tokenError !== null) return tokenError
    const openid = asString(request.query.openid)
    if (openid === undefined || openid === '') return wechatError(41009)
    const user = findUser(openid)
    if (user === undefined) return wechatError(40003)
    const unionid = user.unionid === null ? {} : { unionid: user.unionid }
    // A user who does not follow: nothing but the ids (WeChat: "拉取不到其余信息").
    if (!user.following) return { subscribe: 0, openid: user.openid, ...unionid, tagid_list: [] }
    // No nickname/headimgurl since 2021-12-27, no sex/city/country/province since 2021-10-20.
    return {
      subscribe: 1,
      openid: user.openid,
      subscribe_time: user.subscribeTime,
      ...unionid,
      remark: '',
      groupid: 0,
      tagid_list: [],
      subscribe_scene: user.subscribeScene,
      qr_scene: user.qrScene,
      qr_scene_str: user.qrSceneStr
    }
  }

  return {
    token: legacyToken,
    stable_token: stableToken,
    'qrcode/create': createQrCode,
    'user/info': userInfo
  }
}
