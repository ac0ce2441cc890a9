import { randomBytes } from 'node:crypto'
import { wechatError, type WeChatErrorBody } from './errors.js'

export type IssuedToken = {
  access_token: string
  expires_in: number
}

export interface ForceRefreshLimits {
  /** stable_token force mode: "at least 30 s apart" (45011 when closer; the errcode is our choice, WeChat documents none). */
  minIntervalMs: number
  /** stable_token force mode: "at most 20 per day" (45009 beyond). */
  perDay: number
}

export interface TokenIssuerOptions {
  now: () => number
  ttlSeconds: number
  forceRefresh: ForceRefreshLimits
  /** Called each time a new token value is minted. */
  onIssue: () => void
}

interface TokenRecord {
  value: string
  kind: 'legacy' | 'stable'
  expiresAt: number
  /** Set when a newer token replaced this one: 40001 from then on (42001 wins once expired). */
  revokedAt: number | null
}

/** Old and new tokens both work for 5 minutes after a refresh; stable tokens rotate 5 minutes before expiry. */
const OVERLAP_MS = 5 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000
/** Records this long past their expiry are forgotten (then answered 40001 rather than 42001). */
const FORGET_AFTER_MS = 60 * 60 * 1000

function newTokenValue (): string {
  // WeChat's tokens are ~150 characters of [A-Za-z0-9_-] behind a short numeric prefix.
  return `${80 + Math.floor(Math.random() * 10)}_${randomBytes(108).toString('base64url')}`
}

/**
 * The two isolated token families of one account: `cgi-bin/token` (each call replaces the previous
 * token, which keeps working for 5 minutes) and `cgi-bin/stable_token` (normal mode hands out the same
 * token while it has more than 5 minutes left; force mode replaces it at once).
 */
export function createTokenIssuer ({ now, ttlSeconds, forceRefresh, onIssue }: TokenIssuerOptions) {
  const records = new Map<string, TokenRecord>()
  let legacy: TokenRecord | null = null
  let stable: TokenRecord | null = null
  let forceRefreshTimes: number[] = []
  // With a short test TTL the 5-minute rotation window would swallow the whole lifetime.
  const rotateBeforeMs = Math.min(OVERLAP_MS, Math.floor(ttlSeconds * 1000 / 2))

  function mint (kind: TokenRecord['kind'], at: number): TokenRecord {
    for (const [value, record] of records) {
      if (record.expiresAt + FORGET_AFTER_MS < at) records.delete(value)
    }
    const record: TokenRecord = { value: newTokenValue(), kind, expiresAt: at + ttlSeconds * 1000, revokedAt: null }
    records.set(record.value, record)
    onIssue()
    return record
  }

  function usable (record: TokenRecord | null, at: number): record is TokenRecord {
    return record !== null && at < record.expiresAt && (record.revokedAt === null || at < record.revokedAt)
  }

  /** One clock reading per call: a fresh token says exactly ttlSeconds, as WeChat's do. */
  function answer (record: TokenRecord, at: number): IssuedToken {
    return { access_token: record.value, expires_in: Math.max(0, Math.floor((record.expiresAt - at) / 1000)) }
  }

  function revoke (record: TokenRecord | null, at: number): void {
    if (record !== null && (record.revokedAt === null || record.revokedAt > at)) record.revokedAt = at
  }

  return {
    legacy (): IssuedToken {
      const at = now()
      revoke(legacy, at + OVERLAP_MS)
      legacy = mint('legacy', at)
      return answer(legacy, at)
    },

    stable (force: boolean): IssuedToken | WeChatErrorBody {
      const at = now()
      if (force) {
        forceRefreshTimes = forceRefreshTimes.filter((time) => time > at - DAY_MS)
        const last = forceRefreshTimes.at(-1)
        if (last !== undefined && at - last < forceRefresh.minIntervalMs) return wechatError(45011)
        if (forceRefreshTimes.length >= forceRefresh.perDay) return wechatError(45009)
        forceRefreshTimes.push(at)
        revoke(stable, at)
        stable = mint('stable', at)
        return answer(stable, at)
      }
      if (usable(stable, at) && stable.expiresAt - at > rotateBeforeMs) return answer(stable, at)
      // The platform's own rotation: the old token lives out its remaining minutes, like a refresh overlap.
      stable = mint('stable', at)
      return answer(stable, at)
    },

    /** null when `token` may call the APIs; otherwise WeChat's answer. */
    check (token: unknown): WeChatErrorBody | null {
      if (typeof token !== 'string' || token === '') return wechatError(41001)
      const record = records.get(token)
      if (record === undefined) return wechatError(40001)
      const at = now()
      if (at >= record.expiresAt) return wechatError(42001)
      if (record.revokedAt !== null && at >= record.revokedAt) return wechatError(40001)
      return null
    },

    /** Every token issued so far answers 40001 from now on. */
    invalidateAll (): void {
      const at = now()
      for (const record of records.values()) revoke(record, at)
    },

    /** Every token issued so far answers 42001 from now on. */
    expireAll (): void {
      const at = now()
      for (const record of records.values()) record.expiresAt = Math.min(record.expiresAt, at)
    },

    reset (): void {
      records.clear()
      legacy = null
      stable = null
      forceRefreshTimes = []
    }
  }
}

export type TokenIssuer = ReturnType<typeof createTokenIssuer>
