import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent } from 'undici'
import { safeEqual } from '../util/constant-time.js'
import { createMessageCrypto, type MessageCrypto } from '../wechat/crypto.js'
import { EmulatorError, wechatError, type WeChatErrorBody } from './errors.js'
import { createFaults, type DownMode, type EmulatedApi, type Faults } from './faults.js'
import { buildPush, isPushMode, sendPush, type PushFields, type PushMode, type PushResult, type WeChatPush } from './push.js'
import { createQrCodeStore, parseQrCodeRequest, type QrCodeRecord } from './qrcodes.js'
import { createTokenIssuer, type ForceRefreshLimits } from './tokens.js'
import { createUsers, DEFAULT_USERS, type TestUserSeed, type UserState } from './users.js'

export type { PushResult, WeChatPush, PushFields, PushMode } from './push.js'
export { PUSH_MODES, isPushMode } from './push.js'
export type { Faults, FaultSpec, FaultTarget, EmulatedApi, ActiveFault, DownMode } from './faults.js'
export type { QrCodeRecord } from './qrcodes.js'
export type { TestUserSeed } from './users.js'
export type { ForceRefreshLimits } from './tokens.js'
export { EmulatorError, type EmulatorErrorCode, type WeChatErrorBody } from './errors.js'
export { EMULATED_APIS, isFaultTarget } from './faults.js'

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

export interface TestUser {
  openid: string
  unionid: string | null
  nickname: string
  /** Follows the Official Account: a scan pushes SCAN, otherwise subscribe with qrscene_. */
  following: boolean
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

const DEFAULT_TOKEN_TTL_SECONDS = 7200
const DEFAULT_PUSH_TIMEOUT_MS = 5000

function sameSecret (expected: string, given: string): boolean {
  return safeEqual(expected, given)
}

function asString (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** WeChat accepts the JSON whatever the content type; the routes hand over text when it was not parsed. */
function jsonBody (body: unknown): Record<string, unknown> | WeChatErrorBody {
  let value = body
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = body.toString()
    if (text.trim() === '') return wechatError(44002)
    try {
      value = JSON.parse(text)
    } catch {
      return wechatError(47001)
    }
  }
  if (value === undefined || value === null) return wechatError(44002)
  if (typeof value !== 'object' || Array.isArray(value)) return wechatError(47001)
  return value as Record<string, unknown>
}

function isError (value: object): value is WeChatErrorBody {
  return 'errcode' in value
}

function toTestUser (user: UserState): TestUser {
  return { openid: user.openid, unionid: user.unionid, nickname: user.nickname, following: user.following }
}

/** Fails at creation, not on the first call: a demo with a broken emulator should not start. */
function checkOptions (options: EmulatorOptions, users: readonly TestUserSeed[]): void {
  for (const key of ['appId', 'appSecret', 'token'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') throw new TypeError(`emulator option ${key} must be a non-empty string`)
  }
  if (typeof options.webhookUrl !== 'function' || typeof options.publicBase !== 'function') {
    throw new TypeError('emulator options webhookUrl and publicBase must be functions')
  }
  const { tokenTtlSeconds, pushTimeoutMs } = options
  if (tokenTtlSeconds !== undefined && (!Number.isInteger(tokenTtlSeconds) || tokenTtlSeconds < 1)) {
    throw new TypeError('emulator option tokenTtlSeconds must be a positive integer')
  }
  if (pushTimeoutMs !== undefined && (!Number.isInteger(pushTimeoutMs) || pushTimeoutMs < 1)) {
    throw new TypeError('emulator option pushTimeoutMs must be a positive integer')
  }
  if (users.length === 0) throw new TypeError('the emulator needs at least one test user')
  const { mode = 'plaintext', encodingAesKey } = options
  if (!isPushMode(mode)) throw new TypeError('emulator option mode must be plaintext, compatible or safe')
  if (mode !== 'plaintext' && encodingAesKey === undefined) throw new TypeError(`emulator mode ${mode} needs the encodingAesKey option`)
}

export function createEmulator (options: EmulatorOptions): Emulator {
  const {
    appId, appSecret, token, webhookUrl, publicBase,
    tokenTtlSeconds = DEFAULT_TOKEN_TTL_SECONDS,
    pushTimeoutMs = DEFAULT_PUSH_TIMEOUT_MS,
    now = Date.now
  } = options
  const originalId = options.originalId ?? `gh_${createHash('sha256').update(`gh:${appId}`).digest('hex').slice(0, 12)}`
  const seeds = options.users ?? DEFAULT_USERS
  checkOptions(options, seeds)
  const defaultMode = options.mode ?? 'plaintext'
  // Throws on a malformed key (without echoing it): a demo with a broken emulator should not start.
  const crypto: MessageCrypto | null = options.encodingAesKey === undefined
    ? null
    : createMessageCrypto({ token, encodingAesKey: options.encodingAesKey, appId })
  const modes: readonly PushMode[] = crypto === null ? ['plaintext'] : ['plaintext', 'compatible', 'safe']
  const counters: EmulatorCounters = { tokenFetches: 0, qrCreates: 0, userInfoCalls: 0, tokensIssued: 0, pushes: 0 }
  const faults = createFaults(now)
  const tokens = createTokenIssuer({
    now,
    ttlSeconds: tokenTtlSeconds,
    forceRefresh: { minIntervalMs: 30_000, perDay: 20, ...options.forceRefreshLimits },
    onIssue: () => { counters.tokensIssued++ }
  })
  const qrCodes = createQrCodeStore({ now, publicBase })
  let users = createUsers(appId, seeds, now)
  if (new Set(users.map((user) => user.openid)).size !== users.length) throw new TypeError('test users must have distinct openids')
  let dispatcher: Agent | null = null
  // Survives reset(): a scan right after a reset must not reuse a CreateTime the service has seen.
  const lastCreateTimes = new Map<string, number>()

  /** grant_type, then appid, then secret, as WeChat checks them. */
  function checkCredentials (grantType: unknown, appid: unknown, secret: unknown): WeChatErrorBody | null {
    if (grantType !== 'client_credential') return wechatError(40002)
    if (typeof appid !== 'string' || appid === '') return wechatError(41002)
    if (appid !== appId) return wechatError(40013)
    if (typeof secret !== 'string' || secret === '') return wechatError(41004)
    if (!sameSecret(appSecret, secret)) return wechatError(40125)
    return null
  }

  function findUser (openid: string): UserState | undefined {
    return users.find((user) => user.openid === openid)
  }

  function legacyToken (request: ApiRequest): Record<string, unknown> {
    const { grant_type: grantType, appid, secret } = request.query
    return checkCredentials(grantType, appid, secret) ?? tokens.legacy()
  }

  function stableToken (request: ApiRequest): Record<string, unknown> {
    if (request.method !== 'POST') return wechatError(43002)
    const body = jsonBody(request.body)
    if (isError(body)) return body
    return checkCredentials(body.grant_type, body.appid, body.secret) ?? tokens.stable(body.force_refresh === true)
  }

  function createQrCode (request: ApiRequest): Record<string, unknown> {
    const tokenError = tokens.check(request.query.access_token)
    if (tokenError !== null) return tokenError
    if (request.method !== 'POST') return wechatError(43002)
    const body = jsonBody(request.body)
    if (isError(body)) return body
    const parsed = parseQrCodeRequest(body)
    if (isError(parsed)) return parsed
    const code = qrCodes.create(parsed)
    return code.expireSeconds === null
      ? { ticket: code.ticket, url: code.url }
      : { ticket: code.ticket, expire_seconds: code.expireSeconds, url: code.url }
  }

  function userInfo (request: ApiRequest): Record<string, unknown> {
    const tokenError = tokens.check(request.query.access_token)
    if (tokenError !== null) return tokenError
    const openid = asString(request.query.openid)
    if (openid === undefined || openid === '') return wechatError(41009)
    const user = findUser(openid)
    if (user === undefined) return wechatError(40003)
    const unionid = user.unionid === null ? {} : { unionid: user.unionid }
    // A user who does not follow: nothing but the ids (WeChat: "拉取不到其余信息").
    if (!user.following) return { subscribe: 0, openid: user.openid, ...unionid, tagid_list: [] }
    // No nickname/headimgurl since 2021-12-27, no sex/city/country/province since 2021-10-20.
    return {
      subscribe: 1,
      openid: user.openid,
      subscribe_time: user.subscribeTime,
      ...unionid,
      remark: '',
      groupid: 0,
      tagid_list: [],
      subscribe_scene: user.subscribeScene,
      qr_scene: user.qrScene,
      qr_scene_str: user.qrSceneStr
    }
  }

  const answer: Record<EmulatedApi, (request: ApiRequest) => Record<string, unknown>> = {
    token: legacyToken,
    stable_token: stableToken,
    'qrcode/create': createQrCode,
    'user/info': userInfo
  }

  function count (api: EmulatedApi): void {
    if (api === 'token' || api === 'stable_token') counters.tokenFetches++
    else if (api === 'qrcode/create') counters.qrCreates++
    else counters.userInfoCalls++
  }

  function resolveWebhook (): string {
    try {
      return webhookUrl()
    } catch (error) {
      throw new EmulatorError('no_webhook', `no webhook to push to: ${(error as Error).message}`, { cause: error })
    }
  }

  async function send (push: WeChatPush): Promise<PushResult> {
    counters.pushes++
    dispatcher ??= new Agent({ keepAliveTimeout: 10_000 })
    return sendPush(push, { dispatcher, timeoutMs: pushTimeoutMs })
  }

  /**
   * CreateTime in seconds, strictly increasing per openid: two scans by one user within a second would
   * otherwise share the (FromUserName, CreateTime) dedup key and the second look like a retry.
   */
  function createTimeFor (openid: string | undefined): number {
    const seconds = Math.floor(now() / 1000)
    if (openid === undefined) return seconds
    const createTime = Math.max(seconds, (lastCreateTimes.get(openid) ?? 0) + 1)
    lastCreateTimes.set(openid, createTime)
    return createTime
  }

  function signing (openid: string | undefined, options: PushOptions | undefined) {
    const mode = options?.mode ?? defaultMode
    if (!modes.includes(mode)) throw new EmulatorError('unsupported_mode', `cannot push in ${String(mode)} mode without an EncodingAESKey`)
    return { token, openid, nowMs: now(), mode, crypto }
  }

  const emulator: Emulator = {
    appId,
    mode: defaultMode,
    modes,
    originalId,
    get users () {
      return users.map(toTestUser)
    },
    get counters () {
      return { ...counters }
    },
    faults,
    now,

    async handle (api, request, { signal } = {}) {
      count(api)
      const applied = faults.take(api)
      if (applied.latencyMs > 0) {
        try {
          await sleep(applied.latencyMs, undefined, { signal })
        } catch {
          // The server is closing: a slow WeChat that never answers.
          return { kind: 'down', mode: 'reset' }
        }
      }
      if (applied.down !== null) return { kind: 'down', mode: applied.down }
      if (applied.errcode !== null) return { kind: 'json', body: wechatError(applied.errcode) }
      return { kind: 'json', body: answer[api](request) }
    },

    findQrCode (ticket) {
      return qrCodes.find(ticket)
    },

    async scan (ticket, openid, options) {
      const user = findUser(openid)
      if (user === undefined) throw new EmulatorError('unknown_user', `no test user has the openid ${openid}`)
      const found = qrCodes.find(ticket)
      if (found === null) throw new EmulatorError('unknown_ticket', 'this QR code was not created by this emulator (or was forgotten long ago)')
      if (found.expired) throw new EmulatorError('expired_ticket', 'this QR code has expired')
      const { code } = found
      // Before any state changes: a refused mode is not a scan.
      const sign = signing(user.openid, options)
      const url = resolveWebhook()
      const createTime = createTimeFor(user.openid)
      const firstFollow = !user.following
      if (firstFollow) {
        // The user follows on the phone before WeChat pushes, whatever the webhook answers.
        Object.assign(user, {
          following: true,
          subscribeTime: createTime,
          subscribeScene: 'ADD_SCENE_QR_CODE',
          qrScene: code.sceneId,
          qrSceneStr: code.sceneStr
        })
      }
      const fields: PushFields = {
        ToUserName: originalId,
        FromUserName: user.openid,
        CreateTime: createTime,
        MsgType: 'event',
        Event: firstFollow ? 'subscribe' : 'SCAN',
        EventKey: firstFollow ? `qrscene_${code.scene}` : code.scene,
        Ticket: code.ticket
      }
      return send(buildPush(url, sign, fields))
    },

    async pushEvent (input, options) {
      const fields: Record<string, string | number | bigint> = { ...input }
      const openid = typeof fields.FromUserName === 'string' ? fields.FromUserName : undefined
      const sign = signing(openid, options)
      fields.CreateTime ??= createTimeFor(openid)
      return send(buildPush(resolveWebhook(), sign, fields))
    },

    async replay (push) {
      return send('push' in push ? push.push : push)
    },

    invalidateTokens () {
      tokens.invalidateAll()
    },

    expireTokens () {
      tokens.expireAll()
    },

    setFollowing (openid, following) {
      const user = findUser(openid)
      if (user === undefined) throw new EmulatorError('unknown_user', `no test user has the openid ${openid}`)
      if (following && !user.following) {
        Object.assign(user, { subscribeTime: Math.floor(now() / 1000), subscribeScene: 'ADD_SCENE_SEARCH', qrScene: 0, qrSceneStr: '' })
      }
      user.following = following
      return toTestUser(user)
    },

    reset () {
      tokens.reset()
      qrCodes.reset()
      faults.clear()
      users = createUsers(appId, seeds, now)
      for (const key of Object.keys(counters) as Array<keyof EmulatorCounters>) counters[key] = 0
    },

    async close () {
      const agent = dispatcher
      dispatcher = null
      await agent?.close()
    }
  }
  return emulator
}
