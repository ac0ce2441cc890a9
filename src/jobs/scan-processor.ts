import type { Log } from '../log.js'
import type { LoginBus } from '../login/bus.js'
import type { LoginStore } from '../login/store.js'
import { newLoginCode } from '../login/tokens.js'
import { WeChatApiError } from '../wechat/errors.js'
import type { WeChatClient } from '../wechat/client.js'
import { PermanentJobError, type JobProcessor, type ScanJob } from './definitions.js'

export interface ScanProcessorOptions {
  store: LoginStore
  bus: LoginBus
  wechat: Pick<WeChatClient, 'userInfo'>
  codeTtlMs: number
  log: Log
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
 * store's compare-and-set issues at most one code per login.
 */
export function createScanProcessor ({ store, bus, wechat, codeTtlMs, log, now = Date.now }: ScanProcessorOptions): JobProcessor<ScanJob> {
  return async function processScan (job, _attempt, queuedAt = now()) {
    const { scene } = job
    const scanned = await store.markScanned(scene, now())
    if (scanned === 'missing' && now() - queuedAt < MISSING_LOGIN_GRACE_MS) throw new Error('login not found (yet): retried while instances restore lost logins')
    if (scanned === 'missing' || scanned === 'expired' || scanned === 'already_confirmed') {
      log.info({ scene, outcome: scanned }, 'scan ignored')
      // A re-run after a crash between confirming and publishing: the page must still hear of it.
      if (scanned === 'already_confirmed') await bus.publish(scene)
      return
    }
    // Not awaited: the page's "scanned" must not delay the user/info call that confirms.
    if (scanned === 'changed') publishQuietly(scene)

    let user
    try {
      user = await wechat.userInfo(job.openid)
    } catch (error) {
      if (error instanceof WeChatApiError && PERMANENT_USER_ERRCODES.has(error.errcode)) {
        // Not left "scanned" until it expires: the page shows the QR as open again.
        if (await store.releaseScan(scene) === 'changed') await bus.publish(scene)
        throw new PermanentJobError(`user/info refused the openid: errcode ${error.errcode}`)
      }
      throw error
    }

    const confirmedAt = now()
    const identity = { openid: user.openid, unionid: user.unionid, subscribed: user.subscribed, scene, confirmedAt, flow: 'scan' as const }
    const confirmed = await store.confirm(scene, identity, newLoginCode(), codeTtlMs, confirmedAt)
    log.info({ scene, outcome: confirmed }, 'scan confirmed')
    // Published for 'already_confirmed' too: whoever confirmed may have died before publishing.
    if (confirmed === 'changed' || confirmed === 'already_confirmed') await bus.publish(scene)
  }

  function publishQuietly (scene: string): void {
    bus.publish(scene).catch((error: unknown) => log.warn({ scene, err: error }, 'publishing "scanned" failed'))
  }
}
