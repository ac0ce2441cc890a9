import type { Log } from '../log.js'
import { sha256 } from '../login/tokens.js'
import { createWakeups } from '../drivers/wakeups.js'
import { errcodeAdvice, WeChatApiError, WeChatTransportError } from '../wechat/errors.js'
import { refused, type CallbackAnswer } from './answers.js'
import { CODE_REFUSED_ERRCODES, isErrcodeIn, type SnsClient } from './sns.js'
import { newState } from './state.js'
import type { OAuthStateStore } from './state-store.js'
import type { Sealer } from './token-cipher.js'
import { FLOW_SCOPES, scopeReadsProfile, type AuthorizedUser, type Display, type OAuthApp, type OAuthFlow, type OAuthScope, type OAuthStateRecord, type Purpose } from './types.js'
import type { UserTokenStore } from './user-token-store.js'
import { createUserTokens, type ProfileResult } from './user-tokens.js'

/** What an authorization does once WeChat said who the visitor is. */
export type PurposeHandler = (user: AuthorizedUser, record: OAuthStateRecord) => Promise<CallbackAnswer>

export interface OAuthServiceOptions {
  states: OAuthStateStore
  userTokens: UserTokenStore
  sns: SnsClient
  sealer: Sealer
  /** The Official Account always; the website app when configured. */
  apps: { mp: OAuthApp, web: OAuthApp | null }
  purposes: Record<Purpose, PurposeHandler>
  /** WeChat's authorize pages (WECHAT_OPEN_BASE, or the emulator). */
  openBase: () => string
  /** PUBLIC_URL/auth/wechat/callback. */
  callbackUrl: string
  /** This service's authorize URL with these parameters: the "start again" link of a refusal. */
  restartUrl: (params: Record<string, string>) => string
  stateTtlMs: number
  /** How long a repeated callback waits for the first one's answer. */
  settleWaitMs: number
  log: Log
  now?: () => number
}

export interface BeginRequest {
  flow: OAuthFlow
  scope: OAuthScope
  purpose: Purpose
  returnTo: string
  display: Display
  /** The browser cookie's value. */
  browserId: string
}

export type BeginResult = { ok: true, location: string } | { ok: false, reason: 'flow_unavailable' | 'scope_not_allowed' }

/** The website app's credentials are other variables than the Official Account's that errcodeAdvice names. */
const WEBSITE_APP_ADVICE: Readonly<Record<number, string>> = {
  40013: 'WeChat does not know this AppID: check WECHAT_OPEN_APP_ID (open.weixin.qq.com → 管理中心 → 网站应用 → AppID)',
  40125: 'WeChat refused the AppSecret: check WECHAT_OPEN_APP_SECRET (the website app\'s AppSecret on open.weixin.qq.com)'
}

function oauthAdvice (flow: OAuthFlow, errcode: number): string | undefined {
  return (flow === 'web' ? WEBSITE_APP_ADVICE[errcode] : undefined) ?? errcodeAdvice(errcode)
}

/** Kept after expiresAt, so a late callback hears "expired" rather than "unknown", and a repeated one its answer. */
export const STATE_RETAIN_MS = 60_000
/** A repeated callback re-reads the state this often (the first may run on another instance). */
const SETTLE_POLL_MS = 100

/**
 * WeChat OAuth2 from the state's birth to the purpose's answer, for both flows. The callback's
 * work (code exchange, userinfo, the purpose) runs once per state: the first callback claims the
 * state, and any repeat from the same browser (connect_redirect) waits for and gets the same answer.
 */
export function createOAuthService (options: OAuthServiceOptions) {
  const { states, userTokens, sns, sealer, apps, purposes, openBase, callbackUrl, restartUrl, stateTtlMs, settleWaitMs, log, now = Date.now } = options
  // Wakes a repeated callback as soon as this process settles; other instances' settles are polled.
  const settled = createWakeups()
  const tokens = createUserTokens({ store: userTokens, sealer, sns, log, now })

  function appFor (flow: OAuthFlow): OAuthApp | null {
    return flow === 'mp' ? apps.mp : apps.web
  }

  function restartFor (record: OAuthStateRecord): string {
    // A confirmation starts over from its own link.
    if (record.purpose === 'confirm') return record.returnTo
    return restartUrl({
      flow: record.flow,
      scope: record.scope,
      return_to: record.returnTo,
      ...(record.display === 'popup' ? { display: 'popup' } : {})
    })
  }

  /** WeChat checks the parameters in this order on some clients: built by hand, never re-sorted. */
  function wechatAuthorizeUrl (app: OAuthApp, scope: OAuthScope, state: string): string {
    const page = app.flow === 'mp' ? 'connect/oauth2/authorize' : 'connect/qrconnect'
    const query = [
      ['appid', app.appId],
      ['redirect_uri', callbackUrl],
      ['response_type', 'code'],
      ['scope', scope],
      ['state', state]
    ].map(([name, value]) => `${name}=${encodeURIComponent(value ?? '')}`).join('&')
    return `${openBase().replace(/\/+$/, '')}/${page}?${query}#wechat_redirect`
  }

  /** WeChat's failure as a refusal the visitor can read; anything else (Redis down) is thrown. */
  function wechatFailure (error: unknown, record: OAuthStateRecord): CallbackAnswer {
    if (isErrcodeIn(error, CODE_REFUSED_ERRCODES)) {
      log.info({ flow: record.flow, errcode: error.errcode }, 'WeChat refused the OAuth code')
      return refused('code_refused', { errcode: error.errcode, restart: restartFor(record) })
    }
    if (error instanceof WeChatApiError) {
      log.error({ api: error.api, flow: record.flow, errcode: error.errcode, errmsg: error.errmsg, rid: error.rid, advice: oauthAdvice(record.flow, error.errcode) }, 'WeChat API error')
      return refused('wechat_error', { errcode: error.errcode, restart: restartFor(record) })
    }
    if (error instanceof WeChatTransportError) {
      log.error({ api: error.api, failure: error.failure }, 'WeChat unreachable')
      return refused('wechat_unreachable', { restart: restartFor(record) })
    }
    throw error
  }

  /** The claimed state's work: code → tokens → (profile) → the purpose's answer. */
  async function authorize (record: OAuthStateRecord, code: string | undefined): Promise<CallbackAnswer> {
    if (code === undefined) return refused('declined', { restart: restartFor(record) })
    const app = appFor(record.flow)
    if (app === null) return refused('flow_unavailable')
    let user: AuthorizedUser
    try {
      const grant = await sns.exchangeCode(app, code)
      if (grant.snapshot) {
        log.info({ flow: record.flow }, 'snapshot-mode visitor: not logged in')
        return refused('snapshot_user', { restart: restartFor(record) })
      }
      user = { flow: record.flow, openid: grant.openid, unionid: grant.unionid, profile: undefined }
      if (scopeReadsProfile(record.scope)) {
        const info = await sns.userInfo(grant.accessToken, grant.openid)
        user = { ...user, unionid: info.unionid ?? grant.unionid, profile: info.profile }
        await tokens.saveGrant(app, grant, user.unionid)
      }
    } catch (error) {
      return wechatFailure(error, record)
    }
    return purposes[record.purpose](user, record)
  }

  function answerContext (state: string): string {
    return `oauth-answer:${sha256(state)}`
  }

  /** A repeated callback: the first one's answer, as soon as it is stored (bounded wait). */
  async function answerOf (state: string, record: OAuthStateRecord): Promise<CallbackAnswer> {
    // A real wait, on the monotonic clock: `now` dates records and may be a test's.
    const deadline = performance.now() + settleWaitMs
    for (;;) {
      const stored = await states.get(state)
      if (stored?.answer != null) {
        const opened = sealer.open(stored.answer, answerContext(state))
        if (opened !== null) return JSON.parse(opened) as CallbackAnswer
        return refused('state_used', { restart: restartFor(record) })
      }
      if (stored === null) return refused('unknown_state')
      if (performance.now() >= deadline) return refused('in_progress', { restart: restartFor(record) })
      await settled.wait(SETTLE_POLL_MS)
    }
  }

  return {
    /** Stores a new state bound to the browser and returns WeChat's authorize URL for it. */
    async begin ({ flow, scope, purpose, returnTo, display, browserId }: BeginRequest): Promise<BeginResult> {
      const app = appFor(flow)
      if (app === null) return { ok: false, reason: 'flow_unavailable' }
      if (!FLOW_SCOPES[flow].includes(scope)) return { ok: false, reason: 'scope_not_allowed' }
      const state = newState()
      const createdAt = now()
      await states.create(state, {
        flow, scope, purpose, returnTo, display, browserHash: sha256(browserId), createdAt, expiresAt: createdAt + stateTtlMs
      }, STATE_RETAIN_MS)
      return { ok: true, location: wechatAuthorizeUrl(app, scope, state) }
    },

    /**
     * WeChat's callback. `browserId` is the cookie's value (null without a valid cookie); `code`
     * is absent when the visitor declined. Never throws for WeChat's answers.
     */
    async finish ({ state, code, browserId }: { state: string, code: string | undefined, browserId: string | null }): Promise<CallbackAnswer> {
      // Without a cookie nothing can match: a hash of a fresh random value stands in.
      const browserHash = sha256(browserId ?? newState())
      const codeHash = sha256(`code:${code ?? ''}`)
      const claim = await states.claim(state, browserHash, codeHash, now())
      switch (claim.outcome) {
        case 'missing':
          return refused('unknown_state')
        case 'foreign':
          return refused('foreign_browser')
        case 'expired':
          return refused('expired_state', { restart: restartFor(claim.stored.record) })
        case 'taken':
          // WeChat's connect_redirect repeats the same URL; another code on a used state is a replay.
          if (claim.stored.codeHash !== codeHash) return refused('state_used', { restart: restartFor(claim.stored.record) })
          return answerOf(state, claim.stored.record)
        case 'claimed': {
          const answer = await authorize(claim.stored.record, code)
          await states.settle(state, sealer.seal(JSON.stringify(answer), answerContext(state)))
          settled.wakeAll()
          return answer
        }
      }
    },

    /**
     * A fresh profile of a user who authorized with snsapi_userinfo or snsapi_login, refreshing the
     * access token when it expired (or WeChat says so). `flow` narrows the search to one app.
     */
    async profile (openid: string, flow?: OAuthFlow): Promise<ProfileResult> {
      const candidates = (flow === undefined ? [apps.mp, apps.web] : [appFor(flow)]).filter((app): app is OAuthApp => app !== null)
      return tokens.profile(candidates, openid)
    }
  }
}

export type OAuthService = ReturnType<typeof createOAuthService>
