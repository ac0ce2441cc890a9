import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'

/**
 * Limits are opt-in per route (routes build theirs with `fastify.createRateLimit(...)`). The counters live where the
 * logins do: Redis, shared by every instance, or this process in embedded mode. If Redis fails the
 * request goes through: the route itself then answers 503, and a limiter must not be the outage.
 */
export default fp(async function rateLimitPlugin (fastify) {
  const { config, drivers } = fastify
  await fastify.register(rateLimit, {
    global: false,
    redis: drivers.mode === 'redis' ? drivers.commandConnection() : undefined,
    nameSpace: redisKeyspace(config.REDIS_PREFIX).rateLimitPrefix,
    skipOnError: true,
    timeWindow: 60_000
  })
}, { name: 'rate-limit', fastify: '5.x', dependencies: ['config', 'drivers'] })
