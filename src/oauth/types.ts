import type { LoginFlow, Profile } from '../login/types.js'

/** The two OAuth flows: inside WeChat with the Official Account, and the Open Platform's website QR. */
export const OAUTH_FLOWS = ['mp', 'web'] as const
export type OAuthFlow = Extract<LoginFlow, typeof OAUTH_FLOWS[number]>

export type OAuthScope = 'snsapi_base' | 'snsapi_userinfo' | 'snsapi_login'

/** The scopes each flow may ask for. */
export const FLOW_SCOPES: Readonly<Record<OAuthFlow, readonly OAuthScope[]>> = {
  mp: ['snsapi_base', 'snsapi_userinfo'],
  web: ['snsapi_login']
}

/** Without `scope`: the silent one inside WeChat, the only one of the website QR. */
export const DEFAULT_SCOPE: Readonly<Record<OAuthFlow, OAuthScope>> = { mp: 'snsapi_base', web: 'snsapi_login' }

/** Scopes whose token reads `sns/userinfo`: their tokens are kept for POST /api/users/profile. */
export function scopeReadsProfile (scope: OAuthScope): boolean {
  return scope !== 'snsapi_base'
}

/** `page`: the callback redirects to return_to; `popup`: it posts the code to the opener and closes. */
export type Display = 'page' | 'popup'

/**
 * What an authorization is for: `login`, a one-time login code for return_to; `confirm`, the
 * phone's confirmation page of a follow-scan login (LOGIN_REQUIRE_CONFIRM), shown only to its scanner.
 */
export type Purpose = 'login' | 'confirm'

/** One authorization in flight, stored under its state until the callback (or its TTL). */
export interface OAuthStateRecord {
  flow: OAuthFlow
  scope: OAuthScope
  purpose: Purpose
  /**
   * For `login` the site's return_to, checked: where the code goes. For `confirm` the confirmation
   * link itself (our own URL, naming the scene): opening it again starts over.
   */
  returnTo: string
  display: Display
  /** sha256 of the browser cookie's value: the callback must come from the browser that started. */
  browserHash: string
  createdAt: number
  expiresAt: number
}

/** A credential pair WeChat issues OAuth codes for: the Official Account (mp) or the website app (web). */
export interface OAuthApp {
  flow: OAuthFlow
  appId: string
  appSecret: string
}

/** Who authorized, as the purpose receives it. */
export interface AuthorizedUser {
  flow: OAuthFlow
  openid: string
  unionid: string | null
  profile: Profile | undefined
}
