import type { Log } from '../log.js'
import { loginLogKey } from '../login/log-key.js'
import { backoffDelay } from '../util/backoff.js'
import type { WeChatMessage } from '../wechat/events.js'

/** Shared by the webhook (producer) and the worker (consumer): one place for names, payloads and how a WeChat event becomes a job. */
export const WECHAT_EVENTS_QUEUE = 'wechat-events'
export const SCAN_JOB = 'scan'

/** A QR scan WeChat pushed for one of our scenes. Values stay the strings WeChat sent. */
export interface ScanJob {
  scene: string
  openid: string
  event: 'subscribe' | 'SCAN'
  createTime: string
  /** The id of the webhook request that queued it: the worker's log lines for the job carry it as `reqId`. */
  reqId?: string
  /** When the webhook received the scan (epoch ms): the page's push is timed from here (wql_scan_to_push_seconds). */
  receivedAt?: number
}

/** What every log line about a scan job carries: its login (hashed, never the scene) and the webhook request that queued it. */
export function scanJobLogFields (job: Pick<ScanJob, 'scene' | 'reqId'>): { login: string, reqId?: string } {
  return job.reqId === undefined ? { login: loginLogKey(job.scene) } : { login: loginLogKey(job.scene), reqId: job.reqId }
}

const QR_SUBSCRIBE_PREFIX = 'qrscene_'

/**
 * A QR scan of a parametric code: `subscribe` with EventKey "qrscene_<scene>" (first follow) or
 * `SCAN` with EventKey "<scene>". Anything else (plain follows, a follow after a payment, messages)
 * is null. The prefix is stripped once: a scene may itself start with "qrscene_".
 */
export function toScanJob (message: WeChatMessage): ScanJob | null {
  if (message.MsgType !== 'event') return null
  const { Event: event, EventKey: eventKey, FromUserName: openid, CreateTime: createTime } = message
  if (openid === undefined || openid === '' || createTime === undefined || eventKey === undefined) return null
  let scene: string
  if (event === 'subscribe') {
    if (!eventKey.startsWith(QR_SUBSCRIBE_PREFIX)) return null
    scene = eventKey.slice(QR_SUBSCRIBE_PREFIX.length)
  } else if (event === 'SCAN') {
    scene = eventKey
  } else {
    return null
  }
  if (scene === '') return null
  return { scene, openid, event, createTime }
}

/**
 * WeChat retries an unanswered push up to 3 times within ~15 s, byte for byte. Its documented keys
 * are MsgId for messages and FromUserName + CreateTime for events. Only scan events are queued
 * (text and other messages are acknowledged and dropped, so MsgId never needs to be a key); the
 * key adds Event so a subscribe and a SCAN in the same second stay apart. A second real scan has a
 * later CreateTime, so it is a new job: the processor's compare-and-set on the login makes it a
 * no-op once the login is confirmed ('already_confirmed').
 */
export function scanDedupKey (job: Pick<ScanJob, 'openid' | 'createTime' | 'event'>): string {
  return `${job.openid}:${job.createTime}:${job.event}`
}

/** Longer than WeChat's whole retry span, so a late retry after completion is still recognised. */
export const DEDUP_TTL_MS = 120_000

/**
 * How long a scan's dedup key lives: WeChat's retry span, and at least the window in which the
 * webhook accepts a push's timestamp (WECHAT_TIMESTAMP_TOLERANCE_SECONDS either side of our clock),
 * so a captured push replayed at the window's last second still finds its key.
 */
export function scanDedupTtlMs (timestampToleranceSeconds: number): number {
  return Math.max(DEDUP_TTL_MS, 2 * timestampToleranceSeconds * 1000)
}

/**
 * A person waits on every job: the first retry comes fast, and no gap between retries exceeds a
 * few seconds, so a login completes within JOB_RETRY_MAX_MS of WeChat coming back.
 */
export const JOB_RETRY_BASE_MS = 200
export const JOB_RETRY_MAX_MS = 3000

/** How the scan queue runs its jobs again and forgets their dedup keys: one for both drivers. */
export interface ScanQueueOptions {
  retry: RetryPolicy
  dedupTtlMs: number
}

/** When and how often a failed job runs again. Both queue drivers follow it. */
export interface RetryPolicy {
  /** A ceiling BullMQ needs; the deadline in `delayMs` ends retries first. */
  attempts: number
  /**
   * The wait before the next attempt after `attemptsMade` failed ones, the last of which started
   * at `attemptStartedAt`; null: no more attempts.
   */
  delayMs (attemptsMade: number, queuedAt: number, attemptStartedAt: number): number | null
}

/**
 * Retries last as long as the login they serve: a scan is queued after its login was created, so
 * `queuedAt + loginTtlMs` is past the login's expiry. Retries go on until an attempt has started
 * after that: such an attempt finds the login expired and ends the job (the page has shown
 * "expired" since, never "scanned" for ever); if it failed all the same, nothing is left to do.
 */
export function scanRetryPolicy (loginTtlMs: number, random: () => number = Math.random): RetryPolicy {
  // Each wait is at least half its step: the ramp up to the cap, then one attempt per half cap.
  const ramp = Math.ceil(Math.log2(JOB_RETRY_MAX_MS / JOB_RETRY_BASE_MS)) + 1
  return {
    attempts: ramp + Math.ceil(loginTtlMs / (JOB_RETRY_MAX_MS / 2)) + 1,
    delayMs (attemptsMade, queuedAt, attemptStartedAt) {
      if (attemptStartedAt >= queuedAt + loginTtlMs) return null
      return backoffDelay(attemptsMade - 1, JOB_RETRY_BASE_MS, JOB_RETRY_MAX_MS, random)
    }
  }
}

/**
 * On shutdown a worker lets its running jobs finish for this long; a job still running then is
 * left to its lock, and another worker runs it again once the lock lapses.
 */
export const JOB_DRAIN_DEADLINE_MS = 5000

/**
 * `attempt` counts from 1; `queuedAt` is when the job entered the queue (a spooled event: when it
 * was replayed), in epoch ms.
 */
export type JobProcessor<T> = (job: T, attempt: number, queuedAt?: number) => Promise<void>

/** Jobs by state, as the queue holds them now (failed ones are kept a while: BullMQ's removeOnFail). */
export interface QueueCounts {
  waiting: number
  active: number
  /** Waiting for a retry's backoff. */
  delayed: number
  failed: number
}

export interface JobQueue<T> {
  /** 'duplicate' when a job with the same key was added within the queue's dedup TTL (scanDedupTtlMs). */
  enqueue (job: T, dedupKey: string): Promise<'queued' | 'duplicate'>
  counts (): Promise<QueueCounts>
  close (): Promise<void>
}

export interface JobWorker {
  close (): Promise<void>
}

export interface WorkerOptions<T> {
  concurrency: number
  log: Log
  /** What the queue's own log lines about a job (its failures) say of it, e.g. the request that queued it. */
  logFields?: (job: T) => Record<string, unknown>
  /** A job's lock expired while it ran (its worker died or blocked): it goes back to the queue. */
  onStalled?: () => void
}

/** Thrown by a processor for failures a retry cannot fix (the login is gone, the user unfollowed). */
export class PermanentJobError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'PermanentJobError'
  }
}
