import { createWakeups } from '../drivers/wakeups.js'
import type { Log } from '../log.js'
import type { LoginBus } from '../login/bus.js'
import type { LoginStore } from '../login/store.js'
import { newLoginCode, sha256 } from '../login/tokens.js'
import type { Identity, LoginRecord, Profile, TransitionResult } from '../login/types.js'
import { refused, type CallbackAnswer, type LoginRequestFacts, type RefusalReason } from './answers.js'
import { sceneOfConfirmUrl } from './endpoints.js'
import { newState } from './state.js'
import type { Sealer } from './token-cipher.js'
import type { AuthorizedUser, OAuthStateRecord } from './types.js'
import { loginLogKey } from '../login/log-key.js'

export type ConfirmDecision = 'confirm' | 'deny'

/** What a decision on the confirmation page comes to: done (again, for a repeated submit), or why not. */
export type DecisionAnswer =
  | { kind: 'decided', decision: ConfirmDecision }
  | { kind: 'refused', reason: RefusalReason | 'bad_request' }

/**
 * The confirmation page's form carries this, sealed (AES-GCM under TOKEN_ENC_KEY): who the OAuth
 * callback said the visitor is, and the hash of their browser's cookie. Nothing in it can be
 * changed or read by the visitor, and it works only from the browser that went through the OAuth
 * callback: the form's CSRF token and its session at once, with nothing stored server-side.
 */
interface ConfirmForm {
  scene: string
  openid: string
  unionid: string | null
  profile: Profile | null
  browserHash: string
  /** The login's expiresAt: a decision after it is refused anyway, by the store. */
  expiresAt: number
}

/** The sealing context of the form: a value sealed for anything else never opens as one. */
const FORM_CONTEXT = 'confirm-form'

export interface ConfirmPurposeOptions {
  store: Pick<LoginStore, 'get' | 'confirm' | 'deny'>
  bus: Pick<LoginBus, 'subscribe' | 'publish'>
  sealer: Sealer
  codeTtlMs: number
  /**
   * How long the page waits for the scan's job when the link beat it (the phone got the link with
   * the scan; the worker may be a moment behind).
   */
  scanWaitMs: number
  log: Log
  /** A login this page decided on reached its final status (for the logins metric). */
  onFinal?: (status: 'confirmed' | 'denied') => void
  now?: () => number
}

/**
 * Confirm on the phone (LOGIN_REQUIRE_CONFIRM): the `confirm` purpose of an OAuth authorization
 * (snsapi_userinfo) started from the link the scanner's phone received. The callback shows what is
 * being approved, to the scanner alone; the page's form confirms (the one-time code is issued,
 * with the nickname and avatar in the identity) or denies. Anyone else who opens the link (it was
 * forwarded, or they scanned second) is refused and changes nothing.
 */
export function createConfirmPurpose ({ store, bus, sealer, codeTtlMs, scanWaitMs, log, onFinal, now = Date.now }: ConfirmPurposeOptions) {
  /** Why a login cannot be decided on now; null when it waits for its scanner's decision. */
  function problemOf (login: LoginRecord | null): RefusalReason | null {
    if (login === null) return 'login_expired'
    if (login.status === 'confirmed' || login.status === 'denied') return 'login_finished'
    if (login.expiresAt <= now()) return 'login_expired'
    return login.status === 'pending' ? 'scan_not_seen' : null
  }

  /** The login once its scan has been processed, waiting at most scanWaitMs (the bus says when). */
  async function afterScan (scene: string): Promise<LoginRecord | null> {
    const changed = createWakeups()
    const unsubscribe = await bus.subscribe(scene, () => changed.wakeAll())
    try {
      const deadline = performance.now() + scanWaitMs
      for (;;) {
        const login = await store.get(scene)
        const left = deadline - performance.now()
        if (login?.status !== 'pending' || left <= 0) return login
        await changed.wait(left)
      }
    } finally {
      await unsubscribe()
    }
  }

  function factsOf (login: LoginRecord): LoginRequestFacts {
    return {
      origin: login.requester?.origin ?? null,
      userAgent: login.requester?.userAgent ?? null,
      ip: login.requester?.ip ?? null,
      requestedAt: login.createdAt
    }
  }

  async function publish (scene: string): Promise<void> {
    // The decision is stored: a lost "look again" costs the page a refresh, never a wrong answer.
    await bus.publish(scene).catch((error: unknown) => log.warn({ login: loginLogKey(scene), err: error }, 'publishing a decision failed'))
  }

  function answerOf (result: TransitionResult, decision: ConfirmDecision): DecisionAnswer {
    switch (result) {
      case 'changed':
        return { kind: 'decided', decision }
      case 'already_confirmed':
        // A second submit of the same form (only the scanner can have confirmed): the same answer.
        return decision === 'confirm' ? { kind: 'decided', decision } : { kind: 'refused', reason: 'login_finished' }
      case 'already_denied':
        return decision === 'deny' ? { kind: 'decided', decision } : { kind: 'refused', reason: 'login_finished' }
      case 'another_scanner':
      case 'not_scanned':
        return { kind: 'refused', reason: 'not_your_scan' }
      default:
        return { kind: 'refused', reason: 'login_expired' }
    }
  }

  return {
    /** Before any OAuth: whether the link's login can still be decided on (saves a pointless consent). */
    async startable (scene: string): Promise<RefusalReason | null> {
      const problem = problemOf(await store.get(scene))
      // Still pending is fine here: the scan's job may not have run yet.
      return problem === 'scan_not_seen' ? null : problem
    },

    /** The purpose handler: the OAuth callback of a confirmation link. */
    async page (user: AuthorizedUser, record: OAuthStateRecord): Promise<CallbackAnswer> {
      const scene = sceneOfConfirmUrl(record.returnTo)
      if (scene === null) return refused('unknown_state')
      const login = await afterScan(scene)
      // A forwarded link, or a second scanner: nothing changes, and nothing about the login is shown.
      const someoneElse = login?.scannedBy !== undefined && login.scannedBy !== user.openid
      const problem = someoneElse ? 'not_your_scan' : problemOf(login)
      if (problem !== null || login === null) {
        if (problem === 'not_your_scan') log.warn({ login: loginLogKey(scene) }, 'confirmation link opened by someone other than its scanner')
        return refused(problem ?? 'login_expired', problem === 'scan_not_seen' ? { restart: record.returnTo } : {})
      }
      const form: ConfirmForm = {
        scene,
        openid: user.openid,
        unionid: user.unionid,
        profile: user.profile ?? null,
        browserHash: record.browserHash,
        expiresAt: login.expiresAt
      }
      log.info({ login: loginLogKey(scene) }, 'confirmation page shown to the scanner')
      return { kind: 'confirm_page', request: factsOf(login), nickname: user.profile?.nickname ?? '', form: sealer.seal(JSON.stringify(form), FORM_CONTEXT) }
    },

    /**
     * The page's form: `form` as the page holds it, `browserId` the OAuth cookie's value (null
     * without a valid cookie). Confirm issues the code (as the scan processor would without confirm
     * mode); deny ends the login. Either tells the page over the bus.
     */
    async decide ({ form, browserId, decision }: { form: string, browserId: string | null, decision: ConfirmDecision }): Promise<DecisionAnswer> {
      const opened = sealer.open(form, FORM_CONTEXT)
      if (opened === null) return { kind: 'refused', reason: 'bad_request' }
      const fields = JSON.parse(opened) as ConfirmForm
      // Without a cookie nothing can match: a hash of a fresh random value stands in.
      if (sha256(browserId ?? newState()) !== fields.browserHash) return { kind: 'refused', reason: 'foreign_browser' }
      if (fields.expiresAt <= now()) return { kind: 'refused', reason: 'login_expired' }
      const at = now()
      let result: TransitionResult
      if (decision === 'confirm') {
        const identity: Identity = {
          openid: fields.openid,
          unionid: fields.unionid,
          scene: fields.scene,
          // The scan itself says so: WeChat pushes SCAN to followers, subscribe when someone follows.
          subscribed: true,
          confirmedAt: at,
          flow: 'scan',
          ...(fields.profile === null ? {} : { profile: fields.profile })
        }
        result = await store.confirm(fields.scene, identity, newLoginCode(fields.scene), codeTtlMs, at)
      } else {
        result = await store.deny(fields.scene, fields.openid, at)
      }
      const final = decision === 'confirm' ? 'confirmed' : 'denied'
      log.info({ login: loginLogKey(fields.scene), decision, outcome: result }, result === 'changed' ? `login ${final}` : 'confirmation not applied')
      if (result === 'changed') {
        onFinal?.(final)
        await publish(fields.scene)
      }
      return answerOf(result, decision)
    }
  }
}

export type ConfirmPurpose = ReturnType<typeof createConfirmPurpose>
