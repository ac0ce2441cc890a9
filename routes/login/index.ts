import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  BearerHeaders, CreatedLogin, ErrorBody, ExchangeBody, Identity, PageConfig, Status, StatusQuery, bearerToken
} from './schemas.js'
import { allowedOrigins } from '../../src/config.js'
import { oauthPageConfig } from '../../src/oauth/settings.js'
import { rateLimited } from './limits.js'
import { watchLogin } from './socket.js'

const login: FastifyPluginAsyncTypebox = async (fastify) => {
  const { logins, config } = fastify
  const apiKeyDigest = digest(config.API_KEY)
  const origins = new Set(allowedOrigins(config))

  fastify.post('/qr', {
    // Each login costs WeChat quota (qrcode/create): per visitor, and for the whole deployment.
    onRequest: rateLimited(fastify,
      { max: config.RATE_LIMIT_QR_PER_IP, key: (request) => `qr:ip:${request.ip}` },
      { max: config.RATE_LIMIT_QR_GLOBAL, key: () => 'qr:all' }),
    schema: { response: { 201: CreatedLogin, 502: ErrorBody } }
  }, async (request, reply) => {
    const created = await logins.create()
    request.log.info({ scene: created.scene }, 'login created')
    return reply.code(201).header('cache-control', 'no-store').send(created)
  })

  /** Public: the page posts a code only to an opener on one of these origins. */
  fastify.get('/config', {
    schema: { response: { 200: PageConfig } }
  }, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send({ allowedOrigins: [...origins], ...oauthPageConfig(config) }))

  fastify.get('/ws', {
    websocket: true,
    // Before the upgrade: a page of another site must not watch logins through a visitor's browser
    // (cross-site WebSocket hijacking). Clients that send no Origin are not browsers.
    preValidation: async (request, reply) => {
      const origin = request.headers.origin
      if (origin !== undefined && !origins.has(origin)) {
        request.log.warn({ origin }, 'login socket from a foreign origin refused')
        return reply.code(403).send({ error: 'forbidden_origin' })
      }
    }
  }, (socket, request) => {
    watchLogin(fastify, socket, request)
  })

  /** The polling fallback: the same status object the socket pushes. */
  fastify.get('/status', {
    onRequest: rateLimited(fastify, { max: config.RATE_LIMIT_STATUS_PER_IP, key: (request) => `status:ip:${request.ip}` }),
    schema: { querystring: StatusQuery, headers: BearerHeaders, response: { 200: Status, 404: ErrorBody } }
  }, async (request, reply) => {
    const secret = bearerToken(request.headers.authorization)
    const status = secret === null ? null : await logins.status(request.query.scene, secret)
    if (status === null) return reply.code(404).send({ error: 'not_found' })
    return reply.header('cache-control', 'no-store').send(status)
  })

  /** The application's backend trades a one-time code for the visitor's identity. */
  fastify.post('/exchange', {
    onRequest: [
      // Before the body is read or validated, and before any counter: a wrong key learns nothing else.
      async (request, reply) => {
        const key = bearerToken(request.headers.authorization)
        if (key === null || !timingSafeEqual(digest(key), apiKeyDigest)) {
          request.log.warn('exchange with a wrong API key')
          return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' })
        }
      },
      // Per key (its digest: the key itself is not a counter name), so guessing codes is slow.
      rateLimited(fastify, {
        max: config.RATE_LIMIT_EXCHANGE_PER_KEY,
        key: (request) => `exchange:key:${digest(bearerToken(request.headers.authorization) ?? '').toString('hex')}`
      })
    ],
    schema: { body: ExchangeBody, headers: BearerHeaders, response: { 200: Identity, 400: ErrorBody, 401: ErrorBody } }
  }, async (request, reply) => {
    const identity = await logins.redeem(request.body.code)
    if (identity === null) {
      request.log.info('exchange with an unknown or used code')
      return reply.code(400).send({ error: 'invalid_grant' })
    }
    request.log.info({ scene: identity.scene }, 'login code redeemed')
    return reply.header('cache-control', 'no-store').send({ ...identity, flow: identity.flow ?? 'scan', confirmedAt: new Date(identity.confirmedAt).toISOString() })
  })
}

/** Fixed-length digests, so the comparison is constant-time whatever length was sent. */
function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export default login
