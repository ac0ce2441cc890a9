import type { MessageCrypto } from '../wechat/crypto.js'
import type { DownMode, EmulatedApi, Faults } from './faults.js'
import type { PushFields, PushMode, PushResult, WeChatPush } from './push.js'
import type { QrCodeRecord } from './qrcodes.js'
import type { ForceRefreshLimits } from './tokens.js'
import type { TestUser, TestUserSeed } from './users.js'

/**
 * An in-memory stand-in for one WeChat Official Account, for `npm run demo` and the tests.
 * It impersonates WeChat: never expose it in production.
 */
export interface EmulatorOptions {
  appId: string
  appSecret: string
  /** The webhook Token: pushes are signed with it. */
  token: string
  /** Where scans are pushed (our POST /wechat/webhook). Resolved per push. */
  webhookUrl: () => string
  /** Public base of the emulator's routes (e.g. http://192.168.1.5:3000/_emulator): the QR encodes `${publicBase()}/scan?ticket=…`. */
  publicBase: () => string
  /** How pushes are sent, as set in the console: plaintext (default), compatible or safe. */
  mode?: PushMode
  /** The console's EncodingAESKey: needed for compatible and safe mode (and to offer them per scan). */
  encodingAesKey?: string
  /** The account's original id (`ToUserName` of pushes); derived from the appId when absent. */
  originalId?: string
  /** Test users; four by default (two following, two not; one of each without unionid). */
  users?: readonly TestUserSeed[]
  /** Access token lifetime; WeChat's is 7200. */
  tokenTtlSeconds?: number
  /** stable_token force mode limits; WeChat's are 30 s apart and 20 a day. */
  forceRefreshLimits?: Partial<ForceRefreshLimits>
  /** WeChat gives the webhook 5 s. */
  pushTimeoutMs?: number
  /** Clock in epoch ms, for tests of expiry. */
  now?: () => number
}

/** The options checked, defaulted and derived: what the emulator's parts are built from. */
export interface EmulatorSettings {
  appId: string
  appSecret: string
  token: string
  webhookUrl: () => string
  publicBase: () => string
  /** The mode pushes use unless a call asks for another. */
  mode: PushMode
  /** The modes a push can use: plaintext, plus compatible and safe when an EncodingAESKey is set. */
  modes: readonly PushMode[]
  /** null without an EncodingAESKey. */
  crypto: MessageCrypto | null
  originalId: string
  users: readonly TestUserSeed[]
  tokenTtlSeconds: number
  forceRefreshLimits: ForceRefreshLimits
  pushTimeoutMs: number
  now: () => number
}

export interface EmulatorCounters {
  /** Requests to cgi-bin/token and cgi-bin/stable_token, whatever the answer. */
  tokenFetches: number
  /** Requests to cgi-bin/qrcode/create, whatever the answer. */
  qrCreates: number
  /** Requests to cgi-bin/user/info, whatever the answer. */
  userInfoCalls: number
  /** Distinct token values minted (stable_token normal mode hands out the same one again). */
  tokensIssued: number
  /** Webhook POSTs attempted (scans, pushEvent, replays). */
  pushes: number
}

/** One API request as the routes received it; values are whatever the client sent. */
export interface ApiRequest {
  method: string
  query: Readonly<Record<string, unknown>>
  /** A parsed JSON value, or the raw text when the client did not send JSON. */
  body?: unknown
}

/** WeChat's JSON (HTTP 200, errors included), or no WeChat answer at all (an injected outage). */
export type ApiOutcome =
  | { kind: 'json', body: Readonly<Record<string, unknown>> }
  | { kind: 'down', mode: DownMode }

/** Per push: another mode than the emulator's own (one of `modes`). */
export interface PushOptions {
  mode?: PushMode
}

export interface Emulator {
  readonly appId: string
  /** The mode pushes use unless a call asks for another. */
  readonly mode: PushMode
  /** The modes a push can use: plaintext, plus compatible and safe when an EncodingAESKey is set. */
  readonly modes: readonly PushMode[]
  /** `gh_…`, the ToUserName of every push. */
  readonly originalId: string
  /** Snapshots: reading twice gives two independent copies. */
  readonly users: readonly TestUser[]
  readonly counters: EmulatorCounters
  readonly faults: Faults
  /** The emulator's clock (epoch ms): Date.now unless the options gave another. */
  now (): number
  /** Answers one API call, after the faults that apply to it (counted even when faulted). */
  handle (api: EmulatedApi, request: ApiRequest, options?: { signal?: AbortSignal }): Promise<ApiOutcome>
  /** The QR code of a ticket, expired or not; null when unknown. */
  findQrCode (ticket: string): { code: QrCodeRecord, expired: boolean } | null
  /** Scans the QR of `ticket` as `openid`: pushes the signed subscribe/SCAN event to the webhook. */
  scan (ticket: string, openid: string, options?: PushOptions): Promise<PushResult>
  /** Pushes any message or event (e.g. an unsubscribe, a text message) signed (and encrypted) like WeChat. */
  pushEvent (fields: PushFields, options?: PushOptions): Promise<PushResult>
  /** Sends a push again byte for byte, as WeChat's retries do; takes the push or the result of scan/pushEvent. */
  replay (push: WeChatPush | PushResult): Promise<PushResult>
  /** Invalidates every access token issued so far (WeChat does this when a token is refreshed elsewhere). */
  invalidateTokens (): void
  /** Makes every access token issued so far expired (42001). */
  expireTokens (): void
  /** Makes a test user follow or unfollow without a push (an unfollow right after a scan, say). */
  setFollowing (openid: string, following: boolean): TestUser
  /** Back to the initial state: no tokens, no QR codes, users as configured, counters zero, no faults. */
  reset (): void
  /** Closes the connections used for pushes. */
  close (): Promise<void>
}
