import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RateLimited, withLog } from './errors.js'

export interface LimitSpec {
  /** Requests per minute; 0 turns the limit off. */
  max: number
  /** The counter's name: each limit names its own, so two limits never share a counter. */
  key: (request: FastifyRequest) => string
}

/**
 * One onRequest hook enforcing every limit given, all of them counted. (@fastify/rate-limit's own
 * route hook runs once per request, so a second limit on the same route would be skipped.)
 */
export function rateLimited (fastify: FastifyInstance, ...specs: LimitSpec[]) {
  const checks = specs
    .filter((spec) => spec.max > 0)
    .map((spec) => fastify.createRateLimit({ max: spec.max, timeWindow: 60_000, keyGenerator: spec.key }))
  return async function enforceLimits (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    for (const check of checks) {
      const result = await check(request)
      if (!result.isAllowed && result.isExceeded) {
        reply.header('retry-after', String(result.ttlInSeconds))
        // The counter's kind (qr:ip, exchange:key…), not its key: that names the client or the key's digest.
        throw withLog(new RateLimited(result.ttlInSeconds), { limit: result.key.split(':').slice(0, 2).join(':') })
      }
    }
  }
}
