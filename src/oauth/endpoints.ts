/** The OAuth routes of this service (where WeChat's authorize pages are: src/wechat/endpoints.ts). */
export const AUTHORIZE_PATH = '/auth/wechat/authorize'
export const CALLBACK_PATH = '/auth/wechat/callback'
export const PROFILE_PATH = '/api/users/profile'
/** The phone's confirmation page of a follow-scan login (LOGIN_REQUIRE_CONFIRM). */
export const CONFIRM_PATH = '/auth/wechat/confirm'

interface Urls {
  PUBLIC_URL: string
}

function publicUrl (config: Pick<Urls, 'PUBLIC_URL'>, path: string): string {
  return `${config.PUBLIC_URL.replace(/\/+$/, '')}${path}`
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

/**
 * The link a scanner's phone receives: it starts an OAuth authorization (snsapi_userinfo) whose
 * callback shows the confirmation page of this scene. Not a credential: it only ever works for the
 * person who scanned.
 */
export function confirmUrl (config: Pick<Urls, 'PUBLIC_URL'>, scene: string): string {
  const url = new URL(publicUrl(config, CONFIRM_PATH))
  url.searchParams.set('scene', scene)
  return url.toString()
}

/** The scene of a confirmation link made by confirmUrl; null for anything else. */
export function sceneOfConfirmUrl (link: string): string | null {
  let url: URL
  try {
    url = new URL(link)
  } catch {
    return null
  }
  return url.pathname.endsWith(CONFIRM_PATH) ? url.searchParams.get('scene') : null
}
