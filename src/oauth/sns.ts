import type { Profile } from '../login/types.js'
import type { WeChatHttp } from '../wechat/http.js'
import { WeChatApiError, WeChatTransportError } from '../wechat/errors.js'
import type { OAuthApp } from './types.js'

/** What `sns/oauth2/access_token` and `sns/oauth2/refresh_token` answer. */
export interface SnsGrant {
  accessToken: string
  /** Seconds (7200). */
  expiresIn: number
  refreshToken: string
  openid: string
  scope: string
  unionid: string | null
  /** `is_snapshotuser: 1`: someone who only previewed the page; the openid is a virtual one. */
  snapshot: boolean
}

export interface SnsUser {
  openid: string
  unionid: string | null
  profile: Profile
}

/** The code is invalid, used or expired (5 minutes; 10 for website apps): only a new authorization helps. */
export const CODE_REFUSED_ERRCODES: ReadonlySet<number> = new Set([40029, 40163, 42003])
/** The refresh token is expired or invalid: the user must authorize again. */
export const REFRESH_REFUSED_ERRCODES: ReadonlySet<number> = new Set([42002, 40030])
/** The user's access token is invalid or expired: refresh it. */
export const USER_TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001])

export function isErrcodeIn (error: unknown, errcodes: ReadonlySet<number>): error is WeChatApiError {
  return error instanceof WeChatApiError && errcodes.has(error.errcode)
}

/**
 * The user-token APIs of WeChat OAuth, shared by the Official Account and the website app, through
 * the same retrying client as every other WeChat call (-1 and network failures retried). A code
 * whose answer was lost mid-retry comes back 40163 (used): the visitor starts again, nothing worse.
 */
export function createSnsClient (http: WeChatHttp) {
  return {
    async exchangeCode (app: OAuthApp, code: string): Promise<SnsGrant> {
      const api = 'sns/oauth2/access_token'
      return toGrant(api, await http<Record<string, unknown>>({
        api,
        method: 'GET',
        path: '/sns/oauth2/access_token',
        query: { appid: app.appId, secret: app.appSecret, code, grant_type: 'authorization_code' }
      }))
    },

    async refresh (app: OAuthApp, refreshToken: string): Promise<SnsGrant> {
      const api = 'sns/oauth2/refresh_token'
      return toGrant(api, await http<Record<string, unknown>>({
        api,
        method: 'GET',
        path: '/sns/oauth2/refresh_token',
        query: { appid: app.appId, grant_type: 'refresh_token', refresh_token: refreshToken }
      }))
    },

    async userInfo (accessToken: string, openid: string): Promise<SnsUser> {
      const api = 'sns/userinfo'
      const answer = await http<Record<string, unknown>>({
        api,
        method: 'GET',
        path: '/sns/userinfo',
        query: { access_token: accessToken, openid, lang: 'zh_CN' }
      })
      return {
        openid: requiredString(api, answer, 'openid'),
        unionid: optionalString(answer.unionid),
        profile: {
          nickname: optionalString(answer.nickname) ?? '',
          headimgurl: optionalString(answer.headimgurl) ?? '',
          sex: typeof answer.sex === 'number' ? answer.sex : 0,
          province: optionalString(answer.province) ?? '',
          city: optionalString(answer.city) ?? '',
          country: optionalString(answer.country) ?? '',
          privilege: Array.isArray(answer.privilege) ? answer.privilege.filter((item): item is string => typeof item === 'string') : []
        }
      }
    }
  }
}

export type SnsClient = ReturnType<typeof createSnsClient>

function toGrant (api: string, answer: Record<string, unknown>): SnsGrant {
  const expiresIn = Number(answer.expires_in)
  return {
    accessToken: requiredString(api, answer, 'access_token'),
    expiresIn: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 7200,
    refreshToken: requiredString(api, answer, 'refresh_token'),
    openid: requiredString(api, answer, 'openid'),
    scope: optionalString(answer.scope) ?? '',
    unionid: optionalString(answer.unionid),
    snapshot: Number(answer.is_snapshotuser) === 1
  }
}

function requiredString (api: string, answer: Record<string, unknown>, field: string): string {
  const value = answer[field]
  if (typeof value !== 'string' || value === '') throw new WeChatTransportError(api, 'bad_response', `no ${field}`)
  return value
}

function optionalString (value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null
}
