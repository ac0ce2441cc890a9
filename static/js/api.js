// @ts-check
/** The page's HTTP client of /api/login: every request has a timeout, every error a status. */
import { LOGIN_API, isStatus } from './protocol.js'

/**
 * @typedef {import('./protocol.js').CreatedLogin} CreatedLogin
 * @typedef {import('./protocol.js').StatusMessage} StatusMessage
 * @typedef {import('./protocol.js').ErrorBody} ErrorBody
 */

const REQUEST_TIMEOUT_MS = 10_000
const MAX_RETRY_AFTER_S = 300

export class ApiError extends Error {
  /** @param {number} status @param {Partial<ErrorBody>} body @param {number | null} retryAfterSeconds */
  constructor (status, body, retryAfterSeconds) {
    super(`HTTP ${status}`)
    this.status = status
    this.body = body
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** @returns {Promise<CreatedLogin>} */
export async function createLogin () {
  const response = await fetch(`${LOGIN_API}/qr`, {
    method: 'POST',
    cache: 'no-store',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  })
  if (response.status !== 201) throw await apiError(response)
  return response.json()
}

/**
 * The same status object the socket pushes; null when the server no longer knows the login.
 * @param {CreatedLogin} login
 * @returns {Promise<StatusMessage | null>}
 */
export async function fetchStatus (login) {
  const query = new URLSearchParams({ scene: login.scene })
  const response = await fetch(`${LOGIN_API}/status?${query}`, {
    // The secret travels in a header, never in the URL (URLs end up in logs and histories).
    headers: { authorization: `Bearer ${login.secret}` },
    cache: 'no-store',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  })
  if (response.status === 404) return null
  if (!response.ok) throw await apiError(response)
  const message = await response.json()
  if (!isStatus(message)) throw new ApiError(response.status, {}, null)
  return message
}

/**
 * What the page needs of GET /api/login/config (src/wire/login.ts PageConfig): the origins the
 * service lets receive a code (ALLOWED_ORIGINS), whether the code may be shown on screen (demo
 * mode), and the website-QR popup's URL when an Open Platform app is configured. When the service
 * cannot say: no origin, no code on screen, no popup.
 * @returns {Promise<{ allowedOrigins: string[], showCode: boolean, webLoginUrl: string | null }>}
 */
export function fetchPageConfig () {
  return fetch(`${LOGIN_API}/config`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    .then((response) => response.ok ? response.json() : {})
    .then((/** @type {Record<string, unknown>} */ config) => ({
      allowedOrigins: Array.isArray(config.allowedOrigins) ? config.allowedOrigins.filter(/** @param {unknown} origin */ (origin) => typeof origin === 'string') : [],
      showCode: config.showCode === true,
      webLoginUrl: config.webLogin === true && typeof config.webLoginUrl === 'string' ? config.webLoginUrl : null
    }))
    .catch(() => ({ allowedOrigins: [], showCode: false, webLoginUrl: null }))
}

/** @param {Response} response */
async function apiError (response) {
  const body = await response.json().catch(() => ({}))
  return new ApiError(response.status, body !== null && typeof body === 'object' ? body : {}, retryAfter(response))
}

/** Retry-After in seconds or as an HTTP date, bounded so a bad header cannot lock the page. @param {Response} response */
function retryAfter (response) {
  const value = response.headers.get('retry-after')
  if (value === null) return null
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000)
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_S) : null
}
