/** Shared by the webhook (producer) and the worker (consumer): one place for names and payloads. */
export const WECHAT_EVENTS_QUEUE = 'wechat-events'
export const SCAN_JOB = 'scan'

/** A QR scan WeChat pushed for one of our scenes. Values stay the strings WeChat sent. */
export interface ScanJob {
  scene: string
  openid: string
  event: 'subscribe' | 'SCAN'
  createTime: string
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

export const JOB_ATTEMPTS = 5
export const JOB_BACKOFF_MS = 200

export type JobProcessor<T> = (job: T, attempt: number) => Promise<void>

export interface JobQueue<T> {
  /** 'duplicate' when a job with the same key was added within DEDUP_TTL_MS. */
  enqueue (job: T, dedupKey: string): Promise<'queued' | 'duplicate'>
  close (): Promise<void>
}

export interface JobWorker {
  close (): Promise<void>
}

/** Thrown by a processor for failures a retry cannot fix (the login is gone, the user unfollowed). */
export class PermanentJobError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'PermanentJobError'
  }
}
