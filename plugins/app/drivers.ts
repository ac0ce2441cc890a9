import fp from 'fastify-plugin'
import { createDrivers } from '../../src/drivers/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    drivers: ReturnType<typeof createDrivers>
  }
}

/** The stateful backends, chosen once from the configuration; ready before the app reports ready. */
export default fp(async function driversPlugin (fastify) {
  const { metrics } = fastify
  const drivers = createDrivers(fastify.config, fastify.log.child({ component: 'drivers' }), {
    busResubscribed: () => metrics.busResubscribes.inc()
  })
  fastify.decorate<typeof drivers>('drivers', drivers)
  metrics.watchQueue(() => drivers.scanQueue.counts())
  fastify.addHook('onClose', () => drivers.close())
  await drivers.ready()
  if (drivers.mode === 'embedded') {
    fastify.log.warn('EMBEDDED MODE: no REDIS_URL or REDIS_CLUSTER_NODES, logins live in this process. One instance only; state is lost on restart')
  } else {
    fastify.log.info({ mode: drivers.mode }, 'state in Redis')
  }
}, { name: 'drivers', fastify: '5.x', dependencies: ['config', 'metrics'] })
