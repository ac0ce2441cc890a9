import fp from 'fastify-plugin'
import { createDrivers } from '../../src/drivers/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    drivers: ReturnType<typeof createDrivers>
  }
}

/** The stateful backends, chosen once from the configuration; ready before the app reports ready. */
export default fp(async function driversPlugin (fastify) {
  const drivers = createDrivers(fastify.config)
  fastify.decorate('drivers', drivers)
  fastify.addHook('onClose', () => drivers.close())
  await drivers.ready()
  fastify.log.info({ mode: drivers.mode }, drivers.mode === 'redis' ? 'state in Redis' : 'state in this process')
}, { name: 'drivers', fastify: '5.x', dependencies: ['config'] })
