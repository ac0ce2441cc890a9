import { setTimeout as sleep } from 'node:timers/promises'
import type { Log } from '../log.js'
import { backoffDelay } from '../util/backoff.js'
import { WeChatApiError, WeChatTransportError } from './errors.js'

export interface RetryPolicy {
  /** No attempt starts later than this after the first one (WECHAT_RETRY_DEADLINE_MS); 0 = no retry. */
  deadlineMs: number
  /** The first backoff is between half this and this. */
  baseDelayMs?: number
  /** No backoff is longer than this. */
  maxDelayMs?: number
  /** Attempts in all, whatever the deadline still allows. */
  maxAttempts?: number
  /** Aborted when the process shuts down: no further attempt, so a closing worker is not held for the deadline. */
  signal?: AbortSignal
}

const DEFAULT_BASE_DELAY_MS = 100
const DEFAULT_MAX_DELAY_MS = 2000
const DEFAULT_MAX_ATTEMPTS = 10

/**
 * Worth another try: WeChat busy (-1), no answer, or a 5xx/429 from something in front of it.
 * Everything else is an answer that a retry would only repeat (45009, 40164, 40125, 48001…) and
 * costs quota; token errcodes are handled once, by the access-token protocol, not here.
 */
export function isRetryable (error: unknown): boolean {
  if (error instanceof WeChatApiError) return error.errcode === -1
  if (error instanceof WeChatTransportError) {
    if (error.failure === 'timeout' || error.failure === 'network') return true
    if (error.failure === 'http_status') return error.status === 429 || (error.status ?? 0) >= 500
  }
  return false
}

export interface RetryContext {
  api: string
  log?: Log
  now?: () => number
}

/** Runs `attempt` until it succeeds, fails for good, or the policy's bound or deadline is reached. */
export async function withRetry<T> (attempt: (n: number) => Promise<T>, policy: RetryPolicy, { api, log, now = Date.now }: RetryContext): Promise<T> {
  const { deadlineMs, baseDelayMs = DEFAULT_BASE_DELAY_MS, maxDelayMs = DEFAULT_MAX_DELAY_MS, maxAttempts = DEFAULT_MAX_ATTEMPTS, signal } = policy
  const deadline = now() + deadlineMs
  for (let n = 0; ; n++) {
    try {
      return await attempt(n)
    } catch (error) {
      if (!isRetryable(error) || n + 1 >= maxAttempts) throw error
      const delayMs = backoffDelay(n, baseDelayMs, maxDelayMs)
      if (now() + delayMs > deadline || signal?.aborted === true) throw error
      log?.debug({ api, attempt: n + 1, delayMs, ...reason(error) }, 'WeChat call failed, retrying')
      try {
        await sleep(delayMs, undefined, signal === undefined ? undefined : { signal })
      } catch {
        // Shutting down: the caller gets WeChat's own failure, and BullMQ retries the job elsewhere.
        throw error
      }
    }
  }
}

function reason (error: unknown): Record<string, unknown> {
  if (error instanceof WeChatApiError) return { errcode: error.errcode, rid: error.rid }
  if (error instanceof WeChatTransportError) return { failure: error.failure, status: error.status }
  return {}
}
