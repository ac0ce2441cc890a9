import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EmulatorError } from '../../src/emulator/errors.js'
import { EMULATED_APIS, MAX_LATENCY_MS } from '../../src/emulator/faults.js'
import { PUSH_MODES } from '../../src/emulator/push.js'
import type { Emulator } from '../../src/emulator/types.js'

const Api = Type.Union([...EMULATED_APIS, '*' as const].map((name) => Type.Literal(name)))

const FaultBody = Type.Object({
  api: Api,
  errcode: Type.Optional(Type.Integer()),
  latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LATENCY_MS })),
  down: Type.Optional(Type.Union([Type.Literal('reset'), Type.Literal('503'), Type.Boolean()])),
  times: Type.Optional(Type.Integer({ minimum: 1 })),
  durationMs: Type.Optional(Type.Integer({ minimum: 1 }))
}, { additionalProperties: false })

const ScanBody = Type.Object({
  ticket: Type.String({ minLength: 1, maxLength: 512 }),
  openid: Type.String({ minLength: 1, maxLength: 128 }),
  mode: Type.Optional(Type.Union(PUSH_MODES.map((mode) => Type.Literal(mode))))
}, { additionalProperties: false })

const FollowBody = Type.Object({
  openid: Type.String({ minLength: 1, maxLength: 128 }),
  following: Type.Boolean()
}, { additionalProperties: false })

/** HTTP status of a scan that could not happen. */
export function scanFailureStatus (error: EmulatorError): number {
  switch (error.code) {
    case 'unknown_ticket': return 404
    case 'expired_ticket': return 410
    case 'unknown_user': return 400
    case 'unsupported_mode': return 400
    default: return 502
  }
}

/**
 * Test and demo controls, without authentication: they exist only where the emulator is mounted,
 * and the emulator is never for production. Nothing here hands out a signature: the emulator signs
 * with WECHAT_TOKEN, and a signed push or URL would be a forgery kit for any service sharing that token.
 */
const control: FastifyPluginAsyncTypebox<{ emulator: Emulator, holdPhone?: (openid: string) => void }> = async (fastify, { emulator, holdPhone }) => {
  fastify.get('/counters', async () => emulator.counters)

  fastify.get('/faults', async () => ({ faults: emulator.faults.list() }))

  fastify.post('/faults', { schema: { body: FaultBody } }, async (request, reply) => {
    try {
      return reply.code(201).send({ fault: emulator.faults.inject(request.body) })
    } catch (error) {
      if (error instanceof RangeError) return reply.code(400).send({ error: 'bad_fault', message: error.message })
      throw error
    }
  })

  fastify.delete('/faults', { schema: { querystring: Type.Object({ api: Type.Optional(Api) }) } }, async (request) => {
    emulator.faults.clear(request.query.api)
    return { ok: true }
  })

  fastify.post('/invalidate-tokens', async () => {
    emulator.invalidateTokens()
    return { ok: true }
  })

  fastify.post('/expire-tokens', async () => {
    emulator.expireTokens()
    return { ok: true }
  })

  fastify.post('/reset', async () => {
    emulator.reset()
    return { ok: true }
  })

  fastify.get('/users', async () => ({ users: emulator.users }))

  fastify.post('/follow', { schema: { body: FollowBody } }, async (request, reply) => {
    try {
      return { user: emulator.setFollowing(request.body.openid, request.body.following) }
    } catch (error) {
      if (error instanceof EmulatorError) return reply.code(404).send({ error: error.code, message: error.message })
      throw error
    }
  })

  /**
   * The phone page's scan, for scripts: the service's status, the message the phone shows, the
   * event's fields and mode. Not the signed URL, the body or a reply's MsgSignature.
   */
  fastify.post('/scan', { schema: { body: ScanBody } }, async (request, reply) => {
    try {
      const { ticket, openid, mode } = request.body
      const result = await emulator.scan(ticket, openid, mode === undefined ? {} : { mode })
      holdPhone?.(openid)
      return { status: result.status, reply: result.reply, push: { mode: result.push.mode, fields: result.push.fields } }
    } catch (error) {
      if (error instanceof EmulatorError) return reply.code(scanFailureStatus(error)).send({ error: error.code, message: error.message })
      throw error
    }
  })
}

export default control
