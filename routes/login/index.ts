import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  BearerHeaders, CreatedLogin, ErrorBody, ExchangeBody, Identity, Status, StatusQuery, bearerToken
} from './schemas.js'
import { watchLogin } from './socket.js'

const login: FastifyPluginAsyncTypebox = async (fastify) => {
  const { logins, config } = fastify
  const apiKeyDigest = digest(config.API_KEY)

  fastify.post('/qr', {
    schema: { response: { 201: CreatedLogin, 502: ErrorBody } }
  }, async (request, reply) => {
    const created = await logins.create()
    request.log.info({ scene: created.scene }, 'login created')
    return reply.code(201).header('cache-control', 'no-store').send(created)
  })

  fastify.get('/ws', { websocket: true }, (socket, request) => {
    watchLogin(fastify, socket, request)
  })

  /** The polling fallback: the same status object the socket pushes. */
  fastify.get('/status', {
    schema: { querystring: StatusQuery, headers: BearerHeaders, response: { 200: Status, 404: ErrorBody } }
  }, async (request, reply) => {
    const secret = bearerToken(request.headers.authorization)
    const status = secret === null ? null : await logins.status(request.query.scene, secret)
    if (status === null) return reply.code(404).send({ error: 'not_found' })
    return reply.header('cache-control', 'no-store').send(status)
  })

  /** The application's backend trades a one-time code for the visitor's identity. */
  fastify.post('/exchange', {
    schema: { body: ExchangeBody, headers: BearerHeaders, response: { 200: Identity, 400: ErrorBody, 401: ErrorBody } }
  }, async (request, reply) => {
    const key = bearerToken(request.headers.authorization)
    if (key === null || !timingSafeEqual(digest(key), apiKeyDigest)) {
      request.log.warn('exchange with a wrong API key')
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' })
    }
    const identity = await logins.redeem(request.body.code)
    if (identity === null) {
      request.log.info('exchange with an unknown or used code')
      return reply.code(400).send({ error: 'invalid_grant' })
    }
    request.log.info({ scene: identity.scene }, 'login code redeemed')
    return reply.header('cache-control', 'no-store').send({ ...identity, confirmedAt: new Date(identity.confirmedAt).toISOString() })
  })
}

/** Fixed-length digests, so the comparison is constant-time whatever length was sent. */
function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export default login
