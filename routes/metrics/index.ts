import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { safeEqual } from '../../src/util/constant-time.js'
import { ErrorBodySchema } from '../../src/wire/login.js'
import { Unauthorized } from '../errors.js'
import { BearerHeaders, bearerToken } from '../login/schemas.js'

/**
 * GET /metrics in Prometheus' text format: this process' registry (src/metrics.ts). Served by web
 * processes on PORT and by a worker-only process on METRICS_PORT. With METRICS_TOKEN set, only a
 * scraper presenting it as a bearer token gets an answer.
 */
const metricsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { metrics, config } = fastify
  const token = config.METRICS_TOKEN
  if (token === undefined) fastify.log.info('METRICS_TOKEN unset: /metrics answers whoever reaches this port')

  async function scraperOnly (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (token === undefined) return
    const presented = bearerToken(request.headers.authorization)
    if (presented === null || !safeEqual(presented, token)) {
      reply.header('www-authenticate', 'Bearer')
      throw new Unauthorized()
    }
  }

  fastify.get('/metrics', {
    // Scraped every few seconds: only failures are worth a line.
    logLevel: 'warn',
    onRequest: scraperOnly,
    schema: {
      summary: 'Metrics in Prometheus\' text format',
      description: 'Needs `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set. The README\'s "Operating" section lists every metric.',
      tags: ['operations'],
      security: [{ metricsToken: [] }],
      headers: BearerHeaders,
      response: {
        200: { description: 'The metrics', content: { 'text/plain': { schema: Type.String() } } },
        401: ErrorBodySchema
      }
    }
  }, async (_request, reply) => {
    const body = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).header('cache-control', 'no-store').send(body)
  })
}

export default metricsRoutes
