import type { FastifyRequest } from 'fastify'
import { verifyRequestSignature } from '../../src/wechat/signature.js'
import { BadSignature, StaleTimestamp, withLog } from '../errors.js'

export interface SignedRequestOptions {
  token: string
  /** How far WeChat's `timestamp` may be from our clock, either way. */
  toleranceSeconds: number
  now?: () => number
}

// Seconds since the epoch: anything longer is not a clock reading (and would lose precision as a number).
const TIMESTAMP = /^[0-9]{1,12}$/

/** Our clock minus the request's, in seconds; null when `timestamp` is not a plain decimal. */
export function timestampSkewSeconds (timestamp: string, nowMs: number): number | null {
  if (!TIMESTAMP.test(timestamp)) return null
  return Math.floor(nowMs / 1000) - Number(timestamp)
}

/**
 * The onRequest check of every webhook request, before its body is read: the query signature
 * (token, timestamp, nonce), then the timestamp window. A plaintext signature does not cover the
 * body, so a captured request stays valid as long as its timestamp is accepted: the window is what
 * keeps it from being replayed tomorrow.
 */
export function signedRequestHook ({ token, toleranceSeconds, now = Date.now }: SignedRequestOptions) {
  return async function checkSignedRequest (request: FastifyRequest) {
    const query = request.query as Record<string, unknown>
    if (!verifyRequestSignature(token, query)) throw new BadSignature()
    // A valid signature means timestamp is a string (verifyRequestSignature checked its type).
    const skew = timestampSkewSeconds(query.timestamp as string, now())
    if (skew === null || Math.abs(skew) > toleranceSeconds) {
      throw withLog(new StaleTimestamp(), { skewSeconds: skew, toleranceSeconds })
    }
  }
}
