import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  CloseCode, CreatedLoginSchema, ErrorBodySchema, ExchangeBodySchema, IdentitySchema, PageConfigSchema, StatusMessageSchema
} from '../../src/wire/login.js'
import { BearerHeaders, StatusQuery, bearerToken } from './schemas.js'
import type { FastifyRequest } from 'fastify'
import { allowedOrigins } from '../../src/config.js'
import { clientKey } from '../../src/util/client-key.js'
import { ForbiddenOrigin, InvalidGrant, NotFound, TooManySockets, withLog } from '../errors.js'
import { oauthPageConfig } from '../../src/oauth/settings.js'
import { rateLimited } from '../limits.js'
import { backendOnly } from '../backend-only.js'
import { loginLogKey } from '../../src/login/log-key.js'
import { dailyQrBudget } from './qr-budget.js'
import { createSocketLimits } from './socket-limits.js'
import { watchLogin } from './socket.js'
import { detachUpgradeResponse, keepOnlyTheLogger } from './upgrade.js'

const login: FastifyPluginAsyncTypebox = async (fastify) => {
  const { logins, config, metrics } = fastify
  // Our own page's, and the sites' that use the login from their pages (ALLOWED_ORIGINS).
  const origins = new Set([new URL(config.PUBLIC_URL).origin, ...allowedOrigins(config)])
  const socketLimits = createSocketLimits({
    perInstance: config.SOCKET_LIMIT_PER_INSTANCE,
    perClient: config.SOCKET_LIMIT_PER_IP,
    perLogin: config.SOCKET_LIMIT_PER_LOGIN
  })

  /**
   * A browser page of another site must not use the login through its visitors' browsers. Clients
   * that send no Origin are not browsers (a browser sends one with every POST and every upgrade).
   */
  function checkOrigin (what: 'login socket' | 'login creation') {
    return async function allowedOrigin (request: FastifyRequest): Promise<void> {
      const origin = request.headers.origin
      if (origin !== undefined && !origins.has(origin)) throw withLog(new ForbiddenOrigin(what), { origin: origin.slice(0, 200) })
    }
  }

  fastify.post('/qr', {
    // Each login costs WeChat quota (qrcode/create): per visitor (IPv6: per /64), for the whole
    // deployment per minute, and per Beijing day, below WeChat's daily quota.
    onRequest: [
      checkOrigin('login creation'),
      rateLimited(fastify,
        { max: config.RATE_LIMIT_QR_PER_IP, key: (request) => `qr:ip:${clientKey(request.ip)}` },
        { max: config.RATE_LIMIT_QR_GLOBAL, key: () => 'qr:all' }),
      dailyQrBudget(fastify, { max: config.RATE_LIMIT_QR_DAILY })
    ],
    schema: {
      summary: 'Create a login: its QR code, and the secret only this page will hold',
      tags: ['login'],
      response: { 201: CreatedLoginSchema, 403: ErrorBodySchema, 429: ErrorBodySchema, 502: ErrorBodySchema, 503: ErrorBodySchema }
    }
  }, async (request, reply) => {
    const created = await logins.create({
      ip: request.ip,
      ...(request.headers.origin === undefined ? {} : { origin: request.headers.origin }),
      ...(request.headers['user-agent'] === undefined ? {} : { userAgent: request.headers['user-agent'] })
    })
    metrics.loginsCreated.inc()
    request.log.info({ login: loginLogKey(created.scene) }, 'login created')
    return reply.code(201).header('cache-control', 'no-store').send(created)
  })

  /**
   * Public: the page posts a code only to an opener or a parent frame on one of these origins, and
   * shows it on screen only where WeChat is emulated (a code on screen is a code anyone behind the
   * visitor can read, and redeem through the site's backend).
   */
  fastify.get('/config', {
    schema: { summary: 'What the page needs: the origins it may post a code to, the OAuth ways in', tags: ['login'], response: { 200: PageConfigSchema } }
  }, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send({
    allowedOrigins: [...origins],
    showCode: fastify.endpoints.emulated,
    ...oauthPageConfig(config)
  }))

  fastify.get('/ws', {
    websocket: true,
    schema: {
      summary: 'WebSocket: the login\'s status, pushed on every change',
      description: 'Send `{"type":"subscribe","scene","secret"}` first; the status messages of GET /api/login/status follow. ' +
        'A final status closes with 1000; unknown scene or wrong secret 4404, no subscribe in 10 s 4408, a bad first message 4400.',
      tags: ['login'],
      response: { 101: { description: 'Switching Protocols', type: 'null' }, 403: ErrorBodySchema }
    },
    // Before the upgrade: a page of another site must not watch logins through a visitor's browser
    // (cross-site WebSocket hijacking); upgrades are limited per client, and so are open sockets.
    preValidation: [
      checkOrigin('login socket'),
      rateLimited(fastify, { max: config.RATE_LIMIT_SOCKET_PER_IP, key: (request) => `socket:ip:${clientKey(request.ip)}` }),
      async (request) => {
        const refusal = socketLimits.refusal(clientKey(request.ip))
        if (refusal !== null) throw withLog(new TooManySockets(refusal), { limit: refusal })
      }
    ],
    preHandler: detachUpgradeResponse
  }, (socket, request) => {
    keepOnlyTheLogger(socket, request.log)
    const release = socketLimits.admit(clientKey(request.ip))
    if (release === null) {
      // A cap filled between the check and the upgrade.
      socket.close(CloseCode.tooManySockets, 'too many sockets')
      return
    }
    socket.once('close', release)
    watchLogin(fastify, socket, request, socketLimits)
  })

  /** The polling fallback: the same status object the socket pushes. */
  fastify.get('/status', {
    onRequest: rateLimited(fastify, { max: config.RATE_LIMIT_STATUS_PER_IP, key: (request) => `status:ip:${clientKey(request.ip)}` }),
    schema: {
      summary: 'The login\'s status: the polling fallback of the socket',
      tags: ['login'],
      security: [{ browserSecret: [] }],
      querystring: StatusQuery,
      headers: BearerHeaders,
      response: { 200: StatusMessageSchema, 404: ErrorBodySchema, 429: ErrorBodySchema }
    }
  }, async (request, reply) => {
    const secret = bearerToken(request.headers.authorization)
    const status = secret === null ? null : await logins.status(request.query.scene, secret)
    if (status === null) throw new NotFound('login')
    return reply.header('cache-control', 'no-store').send(status)
  })

  /** The application's backend trades a one-time code for the visitor's identity. */
  fastify.post('/exchange', {
    onRequest: backendOnly(fastify, 'exchange'),
    schema: {
      summary: 'Redeem a one-time login code for the visitor (your backend), once',
      tags: ['login'],
      security: [{ apiKey: [] }],
      body: ExchangeBodySchema,
      headers: BearerHeaders,
      response: { 200: IdentitySchema, 400: ErrorBodySchema, 401: ErrorBodySchema, 429: ErrorBodySchema }
    }
  }, async (request, reply) => {
    const identity = await logins.redeem(request.body.code)
    if (identity === null) throw new InvalidGrant()
    request.log.info({ ...(identity.scene === null ? {} : { login: loginLogKey(identity.scene) }), flow: identity.flow ?? 'scan' }, 'login code redeemed')
    return reply.header('cache-control', 'no-store').send({ ...identity, flow: identity.flow ?? 'scan', confirmedAt: new Date(identity.confirmedAt).toISOString() })
  })
}

export default login
