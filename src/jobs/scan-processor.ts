import type { Log } from '../log.js'
import type { LoginBus } from '../login/bus.js'
import type { LoginStore } from '../login/store.js'
import { newLoginCode } from '../login/tokens.js'
import { WeChatApiError } from '../wechat/errors.js'
import type { WeChatClient } from '../wechat/client.js'
import type { LoginStatus } from '../wire/login.js'
import { PermanentJobError, scanJobLogFields, type JobProcessor, type ScanJob } from './definitions.js'

export interface ScanProcessorOptions {
  store: LoginStore
  bus: LoginBus
  wechat: Pick<WeChatClient, 'userInfo'>
  codeTtlMs: number
  /**
   * LOGIN_REQUIRE_CONFIRM: the scan stops at `scanned`; the scanner confirms (or denies) on the
   * phone's confirmation page, which issues the code (src/login/confirmation.ts).
   */
  requireConfirm?: boolean
  log: Log
  /** This run moved the login to a final status (confirmed): counted once per login, by the compare-and-set. */
  onFinal?: (status: LoginStatus) => void
  now?: () => number
}

/**
 * A login Redis lost (restarted without its data) is put back by the instance whose socket watches
 * it, once that instance is reconnected (LoginService.authorized). A scan queued at the same time
 * (replayed from the spool, say) may get there first: "missing" is retried this long after the job
 * was queued before the scan is dropped.
 */
export const MISSING_LOGIN_GRACE_MS = 15_000

/** WeChat says this openid is not one of the account's users: no retry will change that. */
const PERMANENT_USER_ERRCODES: ReadonlySet<number> = new Set([40003, 48001])

/**
 * pending → scanned → confirmed. Safe to run twice for one event (a stalled job is re-run): the
 * store's compare-and-set issues at most one code per login. The login belongs to its first
 * scanner: a second person's scan (a QR on a shared screen) changes nothing, and only the first
 * scanner's job can confirm.
 */
export function createScanProcessor ({ store, bus, wechat, codeTtlMs, requireConfirm = false, log, onFinal, now = Date.now }: ScanProcessorOptions): JobProcessor<ScanJob> {
  return async function processScan (job, _attempt, queuedAt = now()) {
    const { scene, receivedAt } = job
    const logFields = scanJobLogFields(job)
    const scanned = await store.markScanned(scene, now(), job.openid)
    if (scanned === 'missing' && now() - queuedAt < MISSING_LOGIN_GRACE_MS) throw new Error('login not found (yet): retried while instances restore lost logins')
    if (scanned !== 'changed' && scanned !== 'already_scanned') {
      log.info({ ...logFields, outcome: scanned }, 'scan ignored')
      // A re-run after a crash between deciding and publishing: the page must still hear of it.
      if (scanned === 'already_confirmed' || scanned === 'already_denied') await bus.publish(scene, receivedAt)
      return
    }
    if (requireConfirm) {
      // Awaited: a failed publish fails the job, and its retry ('already_scanned') publishes again.
      await bus.publish(scene, receivedAt)
      log.info({ ...logFields, outcome: scanned }, 'scan awaits confirmation on the phone')
      return
    }
    if (scanned === 'changed') {
      log.info(logFields, 'login scanned')
      // Not awaited: the page's "scanned" must not delay the user/info call that confirms.
      publishQuietly(scene, receivedAt, logFields)
    }

    let user
    try {
      user = await wechat.userInfo(job.openid)
    } catch (error) {
      if (error instanceof WeChatApiError && PERMANENT_USER_ERRCODES.has(error.errcode)) {
        // Not left "scanned" until it expires: the page shows the QR as open again.
        if (await store.releaseScan(scene, job.openid) === 'changed') await bus.publish(scene, receivedAt)
        throw new PermanentJobError(`user/info refused the openid: errcode ${error.errcode}`)
      }
      throw error
    }

    const confirmedAt = now()
    const identity = { openid: user.openid, unionid: user.unionid, subscribed: user.subscribed, scene, confirmedAt, flow: 'scan' as const }
    // The publish is sent with the confirm, not after its answer: both leave in one write and Redis
    // runs them in order, so the page's instance looks again one round trip sooner. It goes out
    // whatever the confirm answers: for a decision already made (whoever made it may have died before
    // publishing), and for a refusal (expired, another scanner), where it costs that instance one
    // read of an unchanged login. A failed publish fails the job; its retry publishes again.
    const confirming = store.confirm(scene, identity, newLoginCode(scene), codeTtlMs, confirmedAt)
    const publishing = bus.publish(scene, receivedAt)
    // Awaited below, after the confirm: a publish failing first must not go unhandled meanwhile.
    publishing.catch(() => {})
    const confirmed = await confirming
    log.info({ ...logFields, outcome: confirmed }, confirmed === 'changed' ? 'login confirmed' : 'scan not confirmed')
    // Counted by the compare-and-set that made the decision, even when its publish failed.
    if (confirmed === 'changed') onFinal?.('confirmed')
    await publishing
    if (confirmed !== 'changed') return
    // In order only while Redis still knows the script: when it had forgotten it (SCRIPT FLUSH, or a
    // proxy in front of several Redis), ioredis sends the script again after the publish, and the
    // page would have read the login still scanned. Once more after the answer: a page that already
    // has its code has closed its socket, and this message reaches nobody.
    await bus.publish(scene, receivedAt)
  }

  function publishQuietly (scene: string, receivedAt: number | undefined, logFields: Record<string, unknown>): void {
    bus.publish(scene, receivedAt).catch((error: unknown) => log.warn({ ...logFields, err: error }, 'publishing "scanned" failed'))
  }
}
