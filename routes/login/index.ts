import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  CreatedLoginSchema, ErrorBodySchema, ExchangeBodySchema, IdentitySchema, PageConfigSchema, StatusMessageSchema
} from '../../src/wire/login.js'
import { BearerHeaders, StatusQuery, bearerToken } from './schemas.js'
import { allowedOrigins } from '../../src/config.js'
import { ForbiddenOrigin, InvalidGrant, NotFound, withLog } from '../errors.js'
import { oauthPageConfig } from '../../src/oauth/settings.js'
import { rateLimited } from '../limits.js'
import { backendOnly } from '../backend-only.js'
import { watchLogin } from './socket.js'

const login: FastifyPluginAsyncTypebox = async (fastify) => {
  const { logins, config } = fastify
  const origins = new Set(allowedOrigins(config))

  fastify.post('/qr', {
    // Each login costs WeChat quota (qrcode/create): per visitor, and for the whole deployment.
    onRequest: rateLimited(fastify,
      { max: config.RATE_LIMIT_QR_PER_IP, key: (request) => `qr:ip:${request.ip}` },
      { max: config.RATE_LIMIT_QR_GLOBAL, key: () => 'qr:all' }),
    schema: { response: { 201: CreatedLoginSchema, 502: ErrorBodySchema } }
  }, async (request, reply) => {
    const created = await logins.create()
    request.log.info({ scene: created.scene }, 'login created')
    return reply.code(201).header('cache-control', 'no-store').send(created)
  })

  /** Public: the page posts a code only to an opener on one of these origins. */
  fastify.get('/config', {
    schema: { response: { 200: PageConfigSchema } }
  }, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send({ allowedOrigins: [...origins], ...oauthPageConfig(config) }))

  fastify.get('/ws', {
    websocket: true,
    // Before the upgrade: a page of another site must not watch logins through a visitor's browser
    // (cross-site WebSocket hijacking). Clients that send no Origin are not browsers.
    preValidation: async (request) => {
      const origin = request.headers.origin
      if (origin !== undefined && !origins.has(origin)) throw withLog(new ForbiddenOrigin(), { origin })
    }
  }, (socket, request) => {
    watchLogin(fastify, socket, request)
  })

  /** The polling fallback: the same status object the socket pushes. */
  fastify.get('/status', {
    onRequest: rateLimited(fastify, { max: config.RATE_LIMIT_STATUS_PER_IP, key: (request) => `status:ip:${request.ip}` }),
    schema: { querystring: StatusQuery, headers: BearerHeaders, response: { 200: StatusMessageSchema, 404: ErrorBodySchema } }
  }, async (request, reply) => {
    const secret = bearerToken(request.headers.authorization)
    const status = secret === null ? null : await logins.status(request.query.scene, secret)
    if (status === null) throw new NotFound('login')
    return reply.header('cache-control', 'no-store').send(status)
  })

  /** The application's backend trades a one-time code for the visitor's identity. */
  fastify.post('/exchange', {
    onRequest: backendOnly(fastify, 'exchange'),
    schema: { body: ExchangeBodySchema, headers: BearerHeaders, response: { 200: IdentitySchema, 400: ErrorBodySchema, 401: ErrorBodySchema } }
  }, async (request, reply) => {
    const identity = await logins.redeem(request.body.code)
    if (identity === null) throw new InvalidGrant()
    request.log.info({ scene: identity.scene }, 'login code redeemed')
    return reply.header('cache-control', 'no-store').send({ ...identity, flow: identity.flow ?? 'scan', confirmedAt: new Date(identity.confirmedAt).toISOString() })
  })
}

export default login
