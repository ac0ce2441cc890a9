import { withAccessToken, type AccessTokens } from './access-token.js'
import type { WeChatHttp } from './http.js'

export interface QrCode {
  ticket: string
  /** What the QR encodes. */
  url: string
  expireSeconds: number
}

export interface WeChatUser {
  openid: string
  unionid: string | null
  subscribed: boolean
}

interface UserInfoResponse {
  subscribe?: number
  openid?: string
  unionid?: string
}

/** The Official Account APIs the login flow needs, each with the shared access token. */
export function createWeChatClient ({ http, tokens }: { http: WeChatHttp, tokens: AccessTokens }) {
  return {
    async createQrCode (scene: string, expireSeconds: number): Promise<QrCode> {
      const response = await withAccessToken(tokens, (token) => http<{ ticket: string, url: string, expire_seconds?: number }>({
        api: 'qrcode/create',
        method: 'POST',
        path: '/cgi-bin/qrcode/create',
        query: { access_token: token },
        body: { expire_seconds: expireSeconds, action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: scene } } }
      }))
      // WeChat has been seen to echo expire_seconds 0 while the lifetime still applied.
      return { ticket: response.ticket, url: response.url, expireSeconds: response.expire_seconds || expireSeconds }
    },

    async userInfo (openid: string): Promise<WeChatUser> {
      const response = await withAccessToken(tokens, (token) => http<UserInfoResponse>({
        api: 'user/info',
        method: 'GET',
        path: '/cgi-bin/user/info',
        query: { access_token: token, openid, lang: 'zh_CN' }
      }))
      return {
        openid: response.openid ?? openid,
        unionid: response.unionid ?? null,
        subscribed: response.subscribe === 1
      }
    }
  }
}

export type WeChatClient = ReturnType<typeof createWeChatClient>
