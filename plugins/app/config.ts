import fp from 'fastify-plugin'
import type { Config } from '../../src/config.js'
import { configWarnings } from '../../src/config-checks.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** The validated configuration (src/config.ts), loaded by the process entry before anything starts. */
export default fp<{ config: Config }>(async function configPlugin (fastify, { config }) {
  fastify.decorate('config', config)
  for (const warning of configWarnings(config)) fastify.log.warn({ component: 'config' }, warning)
}, { name: 'config', fastify: '5.x' })
