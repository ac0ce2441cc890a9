import type { Log } from '../log.js'
import type { Profile } from '../login/types.js'
import { isErrcodeIn, REFRESH_REFUSED_ERRCODES, USER_TOKEN_ERRCODES, type SnsClient, type SnsGrant } from './sns.js'
import type { Sealer } from './token-cipher.js'
import type { OAuthApp, OAuthFlow } from './types.js'
import type { UserTokenStore } from './user-token-store.js'

export type ProfileResult =
  | { kind: 'profile', flow: OAuthFlow, openid: string, unionid: string | null, profile: Profile }
  | { kind: 'reauthorize_required' }

/** A user's tokens as sealed in the user-token store. */
interface UserTokens {
  accessToken: string
  accessTokenExpiresAt: number
  refreshToken: string
  refreshTokenExpiresAt: number
  unionid: string | null
}

/** WeChat's refresh token lives 30 days from the authorization and is never renewed. */
export const REFRESH_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000
/** An access token this close to its expiry is refreshed before use. */
const ACCESS_TOKEN_MARGIN_MS = 60_000

export interface UserTokensOptions {
  store: UserTokenStore
  sealer: Sealer
  sns: SnsClient
  log: Log
  now: () => number
}

/**
 * Users' OAuth tokens: sealed at rest (AES-256-GCM, bound to app and openid), refreshed when they
 * expire, forgotten when WeChat refuses the refresh token. What POST /api/users/profile runs on.
 */
export function createUserTokens ({ store, sealer, sns, log, now }: UserTokensOptions) {
  function tokensContext (app: OAuthApp, openid: string): string {
    return `user-tokens:${app.appId}:${openid}`
  }

  async function saveTokens (app: OAuthApp, openid: string, tokens: UserTokens): Promise<void> {
    await store.put(app.appId, openid, sealer.seal(JSON.stringify(tokens), tokensContext(app, openid)), tokens.refreshTokenExpiresAt)
  }

  async function loadTokens (app: OAuthApp, openid: string): Promise<UserTokens | null> {
    const sealed = await store.get(app.appId, openid)
    if (sealed === null) return null
    const opened = sealer.open(sealed, tokensContext(app, openid))
    if (opened === null) {
      // Another TOKEN_ENC_KEY sealed it: unreadable for good, so the user authorizes again.
      log.warn({ flow: app.flow }, 'stored OAuth tokens do not decrypt with TOKEN_ENC_KEY: dropped')
      await store.delete(app.appId, openid)
      return null
    }
    return JSON.parse(opened) as UserTokens
  }

  function grantToTokens (grant: SnsGrant, refreshTokenExpiresAt: number, unionid: string | null): UserTokens {
    return {
      accessToken: grant.accessToken,
      accessTokenExpiresAt: now() + grant.expiresIn * 1000,
      refreshToken: grant.refreshToken,
      refreshTokenExpiresAt,
      unionid
    }
  }

  async function refresh (app: OAuthApp, openid: string, tokens: UserTokens): Promise<UserTokens | null> {
    let grant: SnsGrant
    try {
      grant = await sns.refresh(app, tokens.refreshToken)
    } catch (error) {
      if (!isErrcodeIn(error, REFRESH_REFUSED_ERRCODES)) throw error
      log.info({ flow: app.flow, errcode: error.errcode }, 'WeChat refused the refresh token: the user must authorize again')
      await store.delete(app.appId, openid)
      return null
    }
    const renewed = grantToTokens(grant, tokens.refreshTokenExpiresAt, grant.unionid ?? tokens.unionid)
    await saveTokens(app, openid, renewed)
    return renewed
  }

  async function currentProfile (app: OAuthApp, openid: string, stored: UserTokens): Promise<ProfileResult> {
    if (stored.refreshTokenExpiresAt <= now()) {
      // Its 30 days are over (the store drops it about now anyway): WeChat would only say 42002.
      await store.delete(app.appId, openid)
      return { kind: 'reauthorize_required' }
    }
    let tokens: UserTokens | null = stored
    let refreshed = false
    if (tokens.accessTokenExpiresAt - ACCESS_TOKEN_MARGIN_MS <= now()) {
      tokens = await refresh(app, openid, tokens)
      refreshed = true
    }
    while (tokens !== null) {
      try {
        const info = await sns.userInfo(tokens.accessToken, openid)
        return { kind: 'profile', flow: app.flow, openid, unionid: info.unionid ?? tokens.unionid, profile: info.profile }
      } catch (error) {
        // Revoked or expired early (WeChat says so before our clock does): one refresh, then it counts.
        if (refreshed || !isErrcodeIn(error, USER_TOKEN_ERRCODES)) throw error
      }
      tokens = await refresh(app, openid, tokens)
      refreshed = true
    }
    return { kind: 'reauthorize_required' }
  }

  return {
    /** Keeps the tokens of a fresh authorization for the refresh token's 30 days. */
    async saveGrant (app: OAuthApp, grant: SnsGrant, unionid: string | null): Promise<void> {
      await saveTokens(app, grant.openid, grantToTokens(grant, now() + REFRESH_TOKEN_LIFETIME_MS, unionid))
    },

    /** The profile from the first of `apps` that holds tokens for `openid`. */
    async profile (apps: readonly OAuthApp[], openid: string): Promise<ProfileResult> {
      for (const app of apps) {
        const stored = await loadTokens(app, openid)
        if (stored !== null) return currentProfile(app, openid, stored)
      }
      return { kind: 'reauthorize_required' }
    }
  }
}
