import type { FastifyRequest } from 'fastify'
import type { Config } from '../../src/config.js'

/** The browser-binding cookie: a random id, signed, sent back only to /auth/wechat. */
export const BROWSER_COOKIE = 'wql_oauth_browser'
/** The cookie outlives the state it binds by this much, so a callback at the state's last second still has it. */
const COOKIE_GRACE_SECONDS = 60

/** Signed, HttpOnly, SameSite=Lax (a cross-site POST never carries it), on /auth/wechat only. */
export function browserCookieOptions (config: Pick<Config, 'PUBLIC_URL' | 'OAUTH_STATE_TTL_SECONDS'>) {
  return {
    signed: true,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: config.PUBLIC_URL.startsWith('https:'),
    path: '/auth/wechat',
    maxAge: config.OAUTH_STATE_TTL_SECONDS + COOKIE_GRACE_SECONDS
  }
}

/** The cookie's value when it is there and its signature holds; null otherwise. */
export function browserIdOf (request: FastifyRequest): string | null {
  const signed = request.cookies[BROWSER_COOKIE]
  if (signed === undefined) return null
  const { valid, value } = request.unsignCookie(signed)
  return valid ? value : null
}
