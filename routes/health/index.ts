import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'

const Live = Type.Object({ status: Type.Literal('ok') })
const Ready = Type.Object({ status: Type.Literal('ready'), mode: Type.Union([Type.Literal('redis'), Type.Literal('embedded')]) })
const NotReady = Type.Object({ status: Type.Literal('unavailable'), error: Type.String() })

const health: FastifyPluginAsync = async (fastify) => {
  const { drivers } = fastify

  fastify.get('/healthz', {
    logLevel: 'warn',
    schema: { summary: 'Liveness: the process answers', tags: ['operations'], response: { 200: Live } }
  }, async () => ({ status: 'ok' }))

  /** Load balancers take an instance out while it cannot reach its state store. */
  fastify.get('/readyz', {
    logLevel: 'warn',
    schema: { summary: 'Readiness: 503 while the state store is unreachable', tags: ['operations'], response: { 200: Ready, 503: NotReady } }
  }, async (request, reply) => {
    if (await drivers.healthy()) return { status: 'ready', mode: drivers.mode }
    request.log.warn('not ready: state store unreachable')
    return reply.code(503).send({ status: 'unavailable', error: 'store_unreachable' })
  })
}

export default health
