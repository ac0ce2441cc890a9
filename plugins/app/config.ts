import fp from 'fastify-plugin'
import type { Config } from '../../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** The validated configuration (src/config.ts), loaded by the process entry before anything starts. */
export default fp<{ config: Config }>(async function configPlugin (fastify, { config }) {
  fastify.decorate('config', config)
}, { name: 'config', fastify: '5.x' })
