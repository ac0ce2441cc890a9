import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Type, type Static } from '@sinclair/typebox'
import type { Drivers } from '../drivers/drivers.js'
import { isBackendUnavailable } from '../errors.js'
import type { Log } from '../log.js'
import { settlesWithin } from '../util/deadline.js'
import { scanJobLogFields, type ScanJob } from './definitions.js'
import type { Spool } from './spool.js'

/**
 * WeChat gives a push 5 s, its own network time included, and re-sends only a push left
 * unanswered; an error status is an answer and the scan is lost. So the webhook answers only once
 * the event is kept: queued in Redis, or, when Redis stays away longer than this, in the spool on
 * local disk. 4 s leaves the fsync and WeChat's round trip a second.
 */
export const WEBHOOK_HOLD_MS = 4000
/**
 * When even the spool fails (a full or read-only disk), the push is left unanswered past WeChat's
 * deadline, so that WeChat sends it again; it keeps trying Redis until then.
 */
export const WEBHOOK_UNANSWERED_MS = 6000
/** Between two tries while Redis is up but refusing (OOM, READONLY): no tight loop. */
const RETRY_PAUSE_MS = 250

const SpooledScanSchema = Type.Object({
  scan: Type.Object({
    scene: Type.String(),
    openid: Type.String(),
    event: Type.Union([Type.Literal('subscribe'), Type.Literal('SCAN')]),
    createTime: Type.String(),
    reqId: Type.Optional(Type.String()),
    receivedAt: Type.Optional(Type.Number())
  }),
  dedupKey: Type.String(),
  signature: Type.String(),
  fingerprint: Type.String(),
  /** Epoch ms: when the webhook took the push. */
  receivedAt: Type.Number()
})
/** One scan kept on disk while Redis was away: everything the webhook would have done with it. */
export type SpooledScan = Static<typeof SpooledScanSchema>
const spooledScan = TypeCompiler.Compile(SpooledScanSchema)

/** Checks a spool line read back from disk. */
export function parseSpooledScan (value: unknown): SpooledScan | null {
  return spooledScan.Check(value) ? value : null
}

export interface IncomingPush {
  /** The push's `signature` and the fingerprint of its message, for the signature ledger. */
  signature: string
  fingerprint: string
  /** The scan to queue, or null for a push we acknowledge and drop. */
  scan: ScanJob | null
  dedupKey: string
}

export type IntakeOutcome =
  | 'queued' | 'duplicate'
  /** On local disk, queued when Redis is back. */
  | 'spooled'
  /** Not a scan of ours: nothing to keep. */
  | 'ignored'
  /** The signature came before with another body: refused. */
  | 'signature_reused'

export interface ScanIntakeOptions {
  drivers: Pick<Drivers, 'scanQueue' | 'signatureLedger' | 'onAvailable'>
  spool: Spool<SpooledScan>
  /** How long the ledger remembers a signature (its timestamp window, both sides). */
  signatureTtlMs: number
  log: Log
  /**
   * INTEGRATION HOOK (issue 14, Operations): called once for each event written to the spool, for
   * the counter `wql_webhook_spooled_events_total`; the gauge `wql_webhook_spool_pending` reads
   * `ScanIntake.pending()`. Nothing here depends on metrics.
   */
  onSpooled?: () => void
  holdMs?: number
  unansweredMs?: number
  now?: () => number
}

export interface ScanIntake {
  /** Resolves once the push is kept (or known not to need keeping); see WEBHOOK_HOLD_MS. */
  keep (push: IncomingPush): Promise<IntakeOutcome>
  /** Queues what the spool holds, oldest first; also run whenever Redis becomes reachable. */
  replay (): Promise<void>
  /** Events in the spool, not yet queued. */
  pending (): number
  close (): Promise<void>
}

/** Thrown when the event could be neither queued nor spooled: the caller must not answer WeChat. */
export class EventNotKept extends Error {
  constructor (options: { cause: unknown }) {
    super('the event could be neither queued nor spooled', options)
    this.name = 'EventNotKept'
  }
}

/**
 * What the webhook does with a push: claim its signature and queue its scan, holding the request
 * while Redis reconnects, and spooling the scan when Redis stays away (README: How it holds up).
 */
export function createScanIntake ({
  drivers, spool, signatureTtlMs, log, onSpooled,
  holdMs = WEBHOOK_HOLD_MS, unansweredMs = WEBHOOK_UNANSWERED_MS, now = Date.now
}: ScanIntakeOptions): ScanIntake {
  const reconnectWaiters = new Set<() => void>()
  let closed = false
  let replaying: Promise<void> | null = null
  let replayAgain = false

  const stopListening = drivers.onAvailable(() => {
    for (const wake of [...reconnectWaiters]) wake()
    replayInBackground()
  })

  /** Resolves at the next reconnect, or after `ms`. */
  function reconnectOrPause (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        reconnectWaiters.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, Math.max(0, ms))
      reconnectWaiters.add(wake)
    })
  }

  /** The claim then the enqueue: both retried as one, as a claim of the same body answers 'same'. */
  async function queue (push: IncomingPush & { scan: ScanJob }): Promise<'queued' | 'duplicate' | 'signature_reused'> {
    const claim = await drivers.signatureLedger.claim(push.signature, push.fingerprint, signatureTtlMs)
    if (claim === 'different') return 'signature_reused'
    return drivers.scanQueue.enqueue(push.scan, push.dedupKey)
  }

  /**
   * Tries `queue` until it answers or `until` passes; each try is bounded by the time left (a
   * command that hangs on a cut network cannot hold the answer past the deadline).
   */
  async function queueBefore (push: IncomingPush & { scan: ScanJob }, until: number): Promise<'queued' | 'duplicate' | 'signature_reused' | null> {
    for (;;) {
      const left = until - now()
      if (left <= 0) return null
      const attempt = queue(push)
      if (await settlesWithin(attempt, left)) {
        try {
          return await attempt
        } catch (error) {
          if (!isBackendUnavailable(error)) throw error
        }
      }
      await reconnectOrPause(Math.min(until - now(), RETRY_PAUSE_MS))
    }
  }

  async function deliver (entry: SpooledScan): Promise<void> {
    let outcome
    try {
      outcome = await queue(entry)
    } catch (error) {
      // Redis away again: the entry stays, in order, for the next reconnect.
      if (isBackendUnavailable(error)) throw error
      log.error({ ...scanJobLogFields(entry.scan), err: error }, 'spooled scan could not be queued: dropped')
      return
    }
    const waitedMs = now() - entry.receivedAt
    if (outcome === 'signature_reused') log.warn({ ...scanJobLogFields(entry.scan), waitedMs }, 'spooled scan dropped: its signature came with another body')
    else log.info({ ...scanJobLogFields(entry.scan), event: entry.scan.event, outcome, waitedMs }, 'spooled scan queued')
  }

  async function replayOnce (): Promise<void> {
    do {
      replayAgain = false
      if (spool.pending() === 0) return
      const result = await spool.drain(deliver)
      if (result.unreadable > 0) log.warn({ lines: result.unreadable }, 'spool lines unreadable (cut short by a crash before they were acknowledged): skipped')
      if (result.failure !== undefined) {
        log.warn({ left: result.left, err: result.failure }, 'spool replay stopped: Redis is away again; it resumes when Redis is back')
        return
      }
      if (result.delivered > 0) log.info({ delivered: result.delivered }, 'spool replayed')
      // eslint-disable-next-line no-unmodified-loop-condition -- set by a reconnect during the drain
    } while (replayAgain && !closed)
  }

  function replay (): Promise<void> {
    if (replaying !== null) {
      replayAgain = true
      return replaying
    }
    replaying = replayOnce().finally(() => { replaying = null })
    return replaying
  }

  function replayInBackground (): void {
    if (closed || spool.pending() === 0) return
    replay().catch((error: unknown) => log.error({ err: error }, 'spool replay failed: the disk refused'))
  }

  return {
    async keep (push) {
      const receivedAt = now()
      if (push.scan === null) {
        // Nothing would be acted on: while Redis is away the signature goes unchecked, and unkept.
        try {
          return await drivers.signatureLedger.claim(push.signature, push.fingerprint, signatureTtlMs) === 'different' ? 'signature_reused' : 'ignored'
        } catch (error) {
          if (isBackendUnavailable(error)) return 'ignored'
          throw error
        }
      }
      const scan = { ...push, scan: push.scan }
      const queued = await queueBefore(scan, receivedAt + holdMs)
      if (queued !== null) {
        // Redis answers again: anything still spooled goes first into the queue (in the background).
        replayInBackground()
        return queued
      }
      try {
        await spool.append({ scan: push.scan, dedupKey: push.dedupKey, signature: push.signature, fingerprint: push.fingerprint, receivedAt })
      } catch (spoolError) {
        log.error({ ...scanJobLogFields(push.scan), err: spoolError }, 'Redis unreachable and the spool refused the event: left unanswered so that WeChat sends it again')
        const late = await queueBefore(scan, receivedAt + unansweredMs)
        if (late !== null) return late
        throw new EventNotKept({ cause: spoolError })
      }
      onSpooled?.()
      log.warn({ ...scanJobLogFields(push.scan), heldMs: now() - receivedAt, pending: spool.pending() }, 'Redis unreachable: scan spooled to disk, queued when Redis is back')
      return 'spooled'
    },

    replay,

    pending () {
      return spool.pending()
    },

    async close () {
      closed = true
      stopListening()
      for (const wake of [...reconnectWaiters]) wake()
      await replaying?.catch(() => {})
      await spool.close()
    }
  }
}
