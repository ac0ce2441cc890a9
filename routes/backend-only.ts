import type { FastifyInstance, FastifyRequest } from 'fastify'
import { sha256 } from '../src/login/tokens.js'
import { safeEqual } from '../src/util/constant-time.js'
import { Unauthorized } from './errors.js'
import { rateLimited } from './limits.js'
import { bearerToken } from './login/schemas.js'

/**
 * The onRequest hooks of a route only the application's backend calls (exchange, profile): API_KEY
 * is checked before the body is read or validated and before any counter, so a wrong key learns
 * nothing else; then requests are counted per key (its digest: the key itself is no counter name),
 * so guessing codes is slow. `counter` names the route's own counter.
 */
export function backendOnly (fastify: FastifyInstance, counter: string) {
  const { config } = fastify
  const presentedKey = (request: FastifyRequest) => bearerToken(request.headers.authorization)
  return [
    async function apiKey (request: FastifyRequest, reply: import('fastify').FastifyReply): Promise<void> {
      const key = presentedKey(request)
      if (key === null || !safeEqual(key, config.API_KEY)) {
        reply.header('www-authenticate', 'Bearer')
        throw new Unauthorized()
      }
    },
    rateLimited(fastify, {
      max: config.RATE_LIMIT_EXCHANGE_PER_KEY,
      key: (request) => `${counter}:key:${sha256(presentedKey(request) ?? '')}`
    })
  ]
}
