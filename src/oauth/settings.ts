import { authorizeUrl } from './endpoints.js'
import { parseTokenEncKey } from './token-cipher.js'
import type { OAuthFlow } from './types.js'

/** The variables OAuth reads (structurally a part of Config, so config.ts can call in here). */
export interface OAuthSettings {
  PUBLIC_URL: string
  WECHAT_EMULATOR: boolean
  LOGIN_REQUIRE_CONFIRM: boolean
  WECHAT_OPEN_BASE: string
  WECHAT_OPEN_APP_ID?: string | undefined
  WECHAT_OPEN_APP_SECRET?: string | undefined
  ALLOWED_RETURN_ORIGINS?: string | undefined
  TOKEN_ENC_KEY?: string | undefined
}

/**
 * "OAuth is configured": an Open Platform website app (WECHAT_OPEN_APP_ID) or ALLOWED_RETURN_ORIGINS
 * is set, LOGIN_REQUIRE_CONFIRM is on (its confirmation page is an OAuth page), or the built-in
 * emulator runs (the demo offers every flow). Only then are the /auth/wechat routes mounted, and
 * only then is TOKEN_ENC_KEY required.
 */
export function oauthEnabled (settings: OAuthSettings): boolean {
  return settings.WECHAT_EMULATOR || settings.LOGIN_REQUIRE_CONFIRM || settings.WECHAT_OPEN_APP_ID !== undefined || settings.ALLOWED_RETURN_ORIGINS !== undefined
}

/** Which flows can run: `mp` needs only the Official Account; `web` needs the website app too. */
export function enabledFlows (settings: OAuthSettings): Record<OAuthFlow, boolean> {
  const enabled = oauthEnabled(settings)
  return { mp: enabled, web: enabled && settings.WECHAT_OPEN_APP_ID !== undefined }
}

/** Why the OAuth settings cannot work, naming the variable and never quoting a value; null when fine. */
export function oauthConfigProblem (settings: OAuthSettings): string | null {
  if ((settings.WECHAT_OPEN_APP_ID === undefined) !== (settings.WECHAT_OPEN_APP_SECRET === undefined)) {
    return 'WECHAT_OPEN_APP_ID and WECHAT_OPEN_APP_SECRET go together: set both (the website app of the Open Platform) or neither'
  }
  if (!oauthEnabled(settings)) return null
  if (settings.TOKEN_ENC_KEY === undefined) {
    // The emulator makes up a key per process; anything real keeps users' tokens and needs a stable one.
    if (settings.WECHAT_EMULATOR) return null
    return 'TOKEN_ENC_KEY is required because OAuth is configured (WECHAT_OPEN_APP_ID, ALLOWED_RETURN_ORIGINS or LOGIN_REQUIRE_CONFIRM is set): 32 random bytes in base64, e.g. `openssl rand -base64 32`'
  }
  if (parseTokenEncKey(settings.TOKEN_ENC_KEY) === null) {
    return 'TOKEN_ENC_KEY must be 32 bytes in standard base64 (44 characters ending in "=", e.g. `openssl rand -base64 32`)'
  }
  return null
}

/** Origins return_to may point at: ALLOWED_RETURN_ORIGINS, else PUBLIC_URL's origin. Compared exactly. */
export function returnOrigins (settings: Pick<OAuthSettings, 'PUBLIC_URL' | 'ALLOWED_RETURN_ORIGINS'>): string[] {
  if (settings.ALLOWED_RETURN_ORIGINS === undefined) return [new URL(settings.PUBLIC_URL).origin]
  return settings.ALLOWED_RETURN_ORIGINS.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '').map((origin) => new URL(origin).origin)
}

/**
 * What GET /api/login/config tells the page: whether each OAuth flow runs, and the authorize URL to
 * open (absolute, on PUBLIC_URL, so the binding cookie lands where the callback reads it) to which
 * the page appends `&return_to=…`.
 */
export function oauthPageConfig (settings: OAuthSettings) {
  const flows = enabledFlows(settings)
  return {
    webLogin: flows.web,
    webLoginUrl: flows.web ? authorizeUrl(settings, { flow: 'web', scope: 'snsapi_login', display: 'popup' }) : null,
    mpLogin: flows.mp,
    mpLoginUrl: flows.mp ? authorizeUrl(settings, { flow: 'mp', scope: 'snsapi_userinfo' }) : null
  }
}
