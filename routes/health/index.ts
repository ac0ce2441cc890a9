import type { FastifyPluginAsync } from 'fastify'

const health: FastifyPluginAsync = async (fastify) => {
  const { drivers } = fastify

  fastify.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }))

  /** Load balancers take an instance out while it cannot reach its state store. */
  fastify.get('/readyz', { logLevel: 'warn' }, async (request, reply) => {
    if (await drivers.healthy()) return { status: 'ready', mode: drivers.mode }
    request.log.warn('not ready: state store unreachable')
    return reply.code(503).send({ status: 'unavailable', error: 'store_unreachable' })
  })
}

export default health
