/**
 * The ingest floor: a bare Fastify route that checks the push's signature and adds it to a BullMQ
 * queue on the same Redis, nothing else (no XML parsing, no deduplication, no signature ledger, no
 * spool, no logs). What any queue-backed webhook must at least do.
 */
import { Queue } from 'bullmq'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { verifyRequestSignature } from '../../src/wechat/signature.js'
import { floorEnv } from './floor-env.js'
import { announce, handleTasks } from './tasks.js'

const env = floorEnv()
const connection = new Redis(env.redisUrl, { enableOfflineQueue: false })
const queue = new Queue('floor-events', { connection, prefix: `${env.prefix}bull` })
await queue.waitUntilReady()

const fastify = Fastify({ logger: false })
fastify.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_request, body, done) => done(null, body))
fastify.post('/wechat/webhook', async (request, reply) => {
  if (!verifyRequestSignature(env.token, request.query as Record<string, unknown>)) return reply.code(401).send()
  await queue.add('event', { body: request.body }, { removeOnComplete: 1000, removeOnFail: 1000 })
  return reply.type('text/plain').send('success')
})

await fastify.listen({ port: 0, host: '127.0.0.1' })
const { port } = fastify.server.address() as { port: number }
handleTasks({})
announce({ url: `http://127.0.0.1:${port}` })
