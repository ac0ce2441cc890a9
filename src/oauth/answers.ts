/** Why a callback logs no one in; each has its own page (and status) in routes/oauth/pages.ts. */
export type RefusalReason =
  /** No such state (never issued, or long gone). */
  | 'unknown_state'
  /** The state outlived OAUTH_STATE_TTL_SECONDS before WeChat called back. */
  | 'expired_state'
  /** The state belongs to another browser's cookie: login CSRF, or a link opened elsewhere. */
  | 'foreign_browser'
  /** The state was already used with another code. */
  | 'state_used'
  /** A callback for this state is still exchanging its code, and did not finish in time. */
  | 'in_progress'
  /** The visitor declined (WeChat called back without a code). */
  | 'declined'
  /** WeChat refused the code: 40029 invalid, 40163 used, 42003 expired. */
  | 'code_refused'
  /** A snapshot-mode visitor (is_snapshotuser: 1) has not really authorized. */
  | 'snapshot_user'
  /** The flow of this state is no longer configured. */
  | 'flow_unavailable'
  /** WeChat answered another errcode (configuration, quota…). */
  | 'wechat_error'
  /** WeChat could not be reached, even after the retries. */
  | 'wechat_unreachable'
  /** Confirm: the visitor is not who scanned the login's QR (a forwarded link, a second scanner). */
  | 'not_your_scan'
  /** Confirm: the login was already confirmed or denied. */
  | 'login_finished'
  /** Confirm: the login expired, or never existed. */
  | 'login_expired'
  /** Confirm: nobody's scan of this login has arrived (yet). */
  | 'scan_not_seen'

/**
 * What the callback answers. Serialisable: the answer of the first callback for a state is stored
 * (sealed), and a repeated callback from the same browser gets exactly the same one.
 */
export type CallbackAnswer =
  | { kind: 'redirect', location: string }
  /** A page that posts `message` to its opener at `targetOrigin` only, then closes; `fallback` without opener. */
  | { kind: 'post_message', targetOrigin: string, message: { type: 'wechat-login', code: string }, fallback: string }
  /** The phone's confirmation page (LOGIN_REQUIRE_CONFIRM): what is being approved, and a form bound to this browser. */
  | { kind: 'confirm_page', request: LoginRequestFacts, nickname: string, form: string }
  /** `restart`: this service's authorize URL for the same flow and return_to, when known. */
  | { kind: 'refused', reason: RefusalReason, errcode?: number, restart?: string }

/** What the confirmation page shows of the login it asks about: who asked for it, and when. */
export interface LoginRequestFacts {
  /** The page that asked (its Origin); null when no web page did (a script, a server). */
  origin: string | null
  userAgent: string | null
  ip: string | null
  /** Epoch ms. */
  requestedAt: number
}

export function refused (reason: RefusalReason, extra: { errcode?: number, restart?: string } = {}): CallbackAnswer {
  return { kind: 'refused', reason, ...extra }
}
