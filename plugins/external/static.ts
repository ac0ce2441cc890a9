import { join } from 'node:path'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'

/** dist/plugins/external → the project root's static/ (the page is not compiled). */
export const STATIC_ROOT = join(import.meta.dirname, '..', '..', '..', 'static')

export default fp(async function staticPlugin (fastify) {
  await fastify.register(fastifyStatic, { root: STATIC_ROOT, prefix: '/', index: 'index.html' })
}, { name: 'static', fastify: '5.x' })
