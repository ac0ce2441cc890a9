import fp from 'fastify-plugin'
import { createMetrics } from '../../src/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ReturnType<typeof createMetrics>
  }
  interface FastifyRequest {
    /**
     * What became of the request, in a word, for metrics: the route's own (`queued`, `duplicate`…),
     * or the error code the root error handler answered with. null until one of them says.
     */
    outcome: string | null
  }
}

/**
 * The app's metrics (src/metrics.ts), in a registry of its own. Registered before the resources:
 * they are handed callbacks that move these metrics. Served by routes/metrics.
 */
export default fp(async function metricsPlugin (fastify) {
  fastify.decorate('metrics', createMetrics())
  fastify.decorateRequest('outcome', null)
}, { name: 'metrics', fastify: '5.x' })
