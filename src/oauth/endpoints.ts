/** The OAuth routes of this service, and where WeChat's authorize pages are. */
export const AUTHORIZE_PATH = '/auth/wechat/authorize'
export const CALLBACK_PATH = '/auth/wechat/callback'
export const PROFILE_PATH = '/api/users/profile'

interface Urls {
  PUBLIC_URL: string
  WECHAT_EMULATOR: boolean
  WECHAT_OPEN_BASE: string
}

function publicUrl (config: Pick<Urls, 'PUBLIC_URL'>, path: string): string {
  return `${config.PUBLIC_URL.replace(/\/+$/, '')}${path}`
}

/**
 * Where the visitor's browser is sent to authorize (connect/oauth2/authorize, connect/qrconnect):
 * WECHAT_OPEN_BASE, or with the built-in emulator this service's own /_emulator (as for the QR
 * image's WECHAT_MP_BASE). To be folded into the one endpoint resolver of src/wechat/.
 */
export function wechatOpenBase (config: Urls): string {
  return config.WECHAT_EMULATOR ? publicUrl(config, '/_emulator') : config.WECHAT_OPEN_BASE
}

/** The redirect_uri WeChat sends the code to: its host is the console's 网页授权域名 / 授权回调域. */
export function callbackUrl (config: Pick<Urls, 'PUBLIC_URL'>): string {
  return publicUrl(config, CALLBACK_PATH)
}

/** This service's authorize route, absolute: the cookie it sets belongs to PUBLIC_URL's host. */
export function authorizeUrl (config: Pick<Urls, 'PUBLIC_URL'>, params: Record<string, string>): string {
  const url = new URL(publicUrl(config, AUTHORIZE_PATH))
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  return url.toString()
}
