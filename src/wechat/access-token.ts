import type { Log } from '../log.js'
import { backoffDelay } from '../util/backoff.js'
import { createTtlMap } from '../util/ttl-map.js'
import { isTokenError, TOKEN_INVALIDATED_ERRCODES, WeChatTransportError, type WeChatApiError } from './errors.js'
import type { FetchedToken, TokenSource } from './token-source.js'

export interface CachedToken {
  token: string
  /** Epoch ms at which WeChat stops accepting the token. */
  expiresAt: number
  /** Epoch ms from which one process fetches the next token while this one is still handed out. */
  refreshAt: number
}

/**
 * The one token every instance and worker shares, and the lock that lets exactly one of them fetch
 * the next. Drivers: Redis (the cluster), in-process (embedded mode); both keep this contract.
 */
export interface TokenCache {
  get (): Promise<CachedToken | null>
  /** Unconditional write, for seeding (tests, tools); the refresh protocol writes with setIfFenced. */
  set (entry: CachedToken): Promise<void>
  /**
   * Takes the refresh lock for `ttlMs` unless someone holds it. Returns the fencing value (higher
   * than any handed out before), or null when another process holds the lock.
   */
  acquireRefreshLock (ttlMs: number): Promise<string | null>
  /** Releases the lock if `fence` still holds it, and wakes the waiters (the refresh is over, stored or not). */
  releaseRefreshLock (fence: string): Promise<void>
  /**
   * Stores `entry` only while `fence` holds the lock and no token stored under a higher fence is
   * there, then wakes the waiters. false: a newer holder took over, and `entry` was not stored.
   */
  setIfFenced (entry: CachedToken, fence: string): Promise<boolean>
  /**
   * Resolves true when a token is stored or a refresh ends anywhere in the deployment, false after
   * `timeoutMs` or on `signal`. Listening starts at the call: read the cache after calling, not before.
   */
  waitForUpdate (timeoutMs: number, signal?: AbortSignal): Promise<boolean>
  /** true for one caller per `windowMs` across the deployment: the right to force a refresh. */
  claimForcedRefresh (windowMs: number): Promise<boolean>
}

export interface AccessTokenOptions {
  cache: TokenCache
  source: TokenSource
  /** Refresh this long before expiry (TOKEN_REFRESH_MARGIN_SECONDS), in the background. */
  refreshMarginMs: number
  /** How long one refresh may hold the lock: longer than the slowest fetch, retries included. */
  lockTtlMs: number
  /** How long a caller waits for other processes' refreshes before failing; default twice the lock TTL. */
  waitTimeoutMs?: number
  log?: Log
  /** Told of every fetch this process makes from the source, and how it ended. */
  onFetch?: (outcome: 'ok' | 'failed') => void
  now?: () => number
}

export interface AccessTokens {
  get (): Promise<string>
  /**
   * WeChat refused `token` with a token errcode: returns its replacement, fetched at most once across
   * the deployment (whoever refreshes first, the others take that token).
   */
  replace (token: string, error: WeChatApiError): Promise<string>
}

/** WeChat allows 20 forced refreshes a day, 30 s apart; once a minute is both safe and enough. */
const FORCED_REFRESH_WINDOW_MS = 60_000
/** A token this close to its expiry is not handed out: the call would carry it past. */
const EXPIRY_SAFETY_MS = 2_000
/** After a failed background refresh this process waits this long before trying again. */
const AHEAD_RETRY_AFTER_MS = 5_000
/** Waiting for someone else's refresh: re-read at least this often, in case a notification was lost. */
const WAIT_POLL_MIN_MS = 50
const WAIT_POLL_MAX_MS = 500

interface Refusal {
  token: string
  error: WeChatApiError
}

/**
 * The access token protocol. Fresh token in memory or in the cache: used as is. Due for refresh:
 * still used, while one process (whoever takes the lock) fetches the next in the background. Missing,
 * expired or refused by WeChat: one process fetches under the lock, the others wait for its token.
 * A refusal (40001/40014) forces the refresh, at most once a minute across the deployment.
 */
export function createAccessTokens (options: AccessTokenOptions): AccessTokens {
  const { cache, source, refreshMarginMs, lockTtlMs, waitTimeoutMs = 2 * lockTtlMs, log, onFetch, now = Date.now } = options
  let memo: CachedToken | null = null
  let loading: Promise<string> | null = null
  const replacing = new Map<string, Promise<string>>()
  /** Refused tokens this process replaced: each is replaced at most once a window. */
  const replaced = createTtlMap<string, true>({ clock: now })
  let aheadRunning = false
  let aheadNotBefore = 0

  function valid (entry: CachedToken | null): entry is CachedToken {
    return entry !== null && entry.expiresAt - EXPIRY_SAFETY_MS > now()
  }

  /** A usable token, and not the one WeChat just refused. */
  function replaces (entry: CachedToken | null, refusal: Refusal | null): entry is CachedToken {
    return valid(entry) && entry.token !== refusal?.token
  }

  function entryFor (fetched: FetchedToken, fetchedAt: number): CachedToken {
    const lifetimeMs = fetched.expires_in * 1000
    // Never more than half the lifetime: a stable token handed out near its end (WeChat keeps it
    // until 5 minutes before expiry) would otherwise be due at once and refetched in a loop.
    const leadMs = Math.min(refreshMarginMs, lifetimeMs / 2)
    return { token: fetched.access_token, expiresAt: fetchedAt + lifetimeMs, refreshAt: fetchedAt + lifetimeMs - leadMs }
  }

  function adopt (entry: CachedToken): string {
    memo = entry
    if (now() >= entry.refreshAt) refreshAhead()
    return entry.token
  }

  async function release (fence: string): Promise<void> {
    try {
      await cache.releaseRefreshLock(fence)
    } catch (error) {
      log?.warn({ err: error }, 'could not release the access token lock; it expires on its own')
    }
  }

  /** The cached token when there is a usable one; otherwise a refresh by this process or the wait for another's. */
  async function obtain (refusal: Refusal | null): Promise<string> {
    const deadline = now() + waitTimeoutMs
    for (let round = 0; ; round++) {
      const stop = new AbortController()
      // Listen before reading: a token stored between the read and the wait still wakes us.
      const updated = cache.waitForUpdate(backoffDelay(round, WAIT_POLL_MIN_MS, WAIT_POLL_MAX_MS), stop.signal)
      try {
        const cached = await cache.get()
        if (replaces(cached, refusal)) return adopt(cached)
        const fence = await cache.acquireRefreshLock(lockTtlMs)
        if (fence !== null) return await refreshUnderLock(fence, refusal)
        if (now() >= deadline) {
          throw new WeChatTransportError('access_token', 'timeout', 'another instance kept the token refresh lock too long')
        }
        await updated
      } finally {
        stop.abort()
      }
    }
  }

  async function refreshUnderLock (fence: string, refusal: Refusal | null): Promise<string> {
    try {
      // Another process may have stored a token between our read and our lock.
      const cached = await cache.get()
      if (replaces(cached, refusal)) return adopt(cached)
      return await fetchAndStore(fence, refusal !== null && await mayForce(refusal))
    } finally {
      await release(fence)
    }
  }

  async function mayForce ({ error }: Refusal): Promise<boolean> {
    // An expired token (42001) is replaced by a normal fetch; the central service is never forced.
    if (source.kind === 'central' || !TOKEN_INVALIDATED_ERRCODES.has(error.errcode)) return false
    if (await cache.claimForcedRefresh(FORCED_REFRESH_WINDOW_MS)) return true
    // cgi-bin/token has no normal mode: any fetch replaces the token everywhere, so none without the guard.
    if (source.kind === 'legacy') throw error
    return false
  }

  async function fetchAndStore (fence: string, force: boolean): Promise<string> {
    const fetchedAt = now()
    let fetched: FetchedToken
    try {
      fetched = await source.fetch(force)
    } catch (error) {
      onFetch?.('failed')
      throw error
    }
    onFetch?.('ok')
    const entry = entryFor(fetched, fetchedAt)
    if (await cache.setIfFenced(entry, fence)) {
      log?.info({ source: source.kind, forced: force, expiresIn: fetched.expires_in }, 'access token fetched')
      memo = entry
      return entry.token
    }
    // Our lock expired mid-fetch and a newer holder took over: its token wins over ours.
    log?.warn({ source: source.kind }, 'the access token lock expired during the fetch; keeping the newer holder\'s token')
    const cached = await cache.get()
    return valid(cached) ? adopt(cached) : entry.token
  }

  function refreshAhead (): void {
    if (aheadRunning || now() < aheadNotBefore) return
    aheadRunning = true
    // Not awaited: callers keep the current token while the next one is fetched.
    refreshAheadUnderLock().catch((error: unknown) => {
      aheadNotBefore = now() + AHEAD_RETRY_AFTER_MS
      log?.warn({ err: error }, 'refreshing the access token ahead of its expiry failed; the current one is still valid')
    }).finally(() => {
      aheadRunning = false
    })
  }

  async function refreshAheadUnderLock (): Promise<void> {
    const fence = await cache.acquireRefreshLock(lockTtlMs)
    if (fence === null) return
    try {
      const cached = await cache.get()
      if (valid(cached) && now() < cached.refreshAt) {
        memo = cached
        return
      }
      await fetchAndStore(fence, false)
    } finally {
      await release(fence)
    }
  }

  return {
    async get () {
      if (memo !== null && valid(memo) && now() < memo.refreshAt) return memo.token
      // While a refused token is being replaced here, new callers take the replacement: a refresh of
      // their own would be a normal one, and could hand the refused token back.
      const replacement = replacing.values().next().value
      if (replacement !== undefined) return replacement
      loading ??= obtain(null).finally(() => { loading = null })
      return loading
    },

    async replace (token, error) {
      if (memo?.token === token) memo = null
      const pending = replacing.get(token)
      if (pending !== undefined) return pending
      if (replaced.has(token)) {
        // Replaced moments ago: a late refusal takes the token stored since. If the cache still holds
        // this one, WeChat hands it out while refusing it, and another fetch would only repeat that.
        const cached = await cache.get()
        if (replaces(cached, { token, error })) return adopt(cached)
        throw error
      }
      replaced.set(token, true, FORCED_REFRESH_WINDOW_MS)
      const replacement = obtain({ token, error }).finally(() => replacing.delete(token))
      replacing.set(token, replacement)
      return replacement
    }
  }
}

/**
 * Runs `call` with the shared token; when WeChat refuses the token, replaces it and tries once
 * more. A second refusal is the caller's to see: something outside this service is replacing
 * tokens, and a loop would only burn quota.
 */
export async function withAccessToken<T> (tokens: AccessTokens, call: (token: string) => Promise<T>): Promise<T> {
  const token = await tokens.get()
  try {
    return await call(token)
  } catch (error) {
    if (!isTokenError(error)) throw error
    return call(await tokens.replace(token, error))
  }
}
