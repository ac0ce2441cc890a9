import { isTokenError } from './errors.js'

export interface CachedToken {
  token: string
  /** Epoch ms after which the token must not be handed out. */
  expiresAt: number
}

/** The one token every instance shares. Drivers: Redis, in-process. */
export interface TokenCache {
  get (): Promise<CachedToken | null>
  set (entry: CachedToken): Promise<void>
  /** Deletes only if the cached token is still `token`: another instance may have refreshed already. */
  deleteIfEquals (token: string): Promise<void>
}

export interface FetchedToken {
  access_token: string
  expires_in: number
}

export interface AccessTokenOptions {
  cache: TokenCache
  fetchToken: (forceRefresh: boolean) => Promise<FetchedToken>
  /** Hand out no token with less life left than this. */
  refreshMarginMs: number
  now?: () => number
}

export interface AccessTokens {
  get (): Promise<string>
  /** The token failed with a token errcode: forget it (if nobody replaced it yet). */
  invalidate (token: string): Promise<void>
}

export function createAccessTokens ({ cache, fetchToken, refreshMarginMs, now = Date.now }: AccessTokenOptions): AccessTokens {
  let inFlight: Promise<string> | null = null

  async function refresh (): Promise<string> {
    const fetched = await fetchToken(false)
    const expiresAt = now() + fetched.expires_in * 1000
    await cache.set({ token: fetched.access_token, expiresAt })
    return fetched.access_token
  }

  return {
    async get () {
      const cached = await cache.get()
      if (cached !== null && cached.expiresAt - refreshMarginMs > now()) return cached.token
      // Single flight within the process: 200 concurrent calls from cold make one fetch here.
      inFlight ??= refresh().finally(() => { inFlight = null })
      return inFlight
    },
    async invalidate (token) {
      await cache.deleteIfEquals(token)
    }
  }
}

/**
 * Runs `call` with the shared token; when WeChat says the token is bad, forgets it and tries once
 * more with a fresh one. A second token error is the caller's to see.
 */
export async function withAccessToken<T> (tokens: AccessTokens, call: (token: string) => Promise<T>): Promise<T> {
  const token = await tokens.get()
  try {
    return await call(token)
  } catch (error) {
    if (!isTokenError(error)) throw error
    await tokens.invalidate(token)
    return call(await tokens.get())
  }
}
