import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { scanDedupKey } from '../../src/jobs/definitions.js'
import { isOurScene } from '../../src/login/tokens.js'
import { toScanJob, toWeChatMessage } from '../../src/wechat/events.js'
import { verifyRequestSignature } from '../../src/wechat/signature.js'
import { registerXmlParser } from './xml-body.js'

const SignedQuery = Type.Object({
  signature: Type.Optional(Type.String({ maxLength: 128 })),
  timestamp: Type.Optional(Type.String({ maxLength: 32 })),
  nonce: Type.Optional(Type.String({ maxLength: 128 })),
  echostr: Type.Optional(Type.String({ maxLength: 1024 }))
})

/** WeChat treats "success" as "received, no reply": no retry, nothing shown to the user. */
const ACK = 'success'

const webhook: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, drivers } = fastify

  await registerXmlParser(fastify, config.WEBHOOK_BODY_LIMIT)

  // Before the body is read: an unsigned request costs us no parsing and enqueues nothing.
  fastify.addHook('onRequest', async (request, reply) => {
    if (!verifyRequestSignature(config.WECHAT_TOKEN, request.query as Record<string, unknown>)) {
      request.log.warn('webhook signature mismatch')
      return reply.code(401).send({ error: 'bad_signature' })
    }
  })

  fastify.setErrorHandler((error: Error & { statusCode?: number, code?: string }, request, reply) => {
    // Before the handler ran, the only failure left is the XML parser's own (past its validator).
    const parseFailure = error.statusCode === undefined && request.body === undefined
    const status = parseFailure ? 400 : error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : undefined
    if (status !== undefined) {
      request.log.warn({ code: error.code, reason: error.message }, 'webhook request refused')
      return reply.code(status).send({ error: parseFailure ? 'malformed_xml' : error.code ?? 'bad_request' })
    }
    throw error
  })

  /** The URL check of the WeChat console: echo `echostr` once the signature matched. */
  fastify.get('/webhook', { schema: { querystring: SignedQuery } }, async (request, reply) => {
    const { echostr } = request.query
    if (echostr === undefined) return reply.code(400).send({ error: 'missing_echostr' })
    return reply.type('text/plain; charset=utf-8').send(echostr)
  })

  fastify.post('/webhook', { schema: { querystring: SignedQuery } }, async (request, reply) => {
    const message = toWeChatMessage(request.body)
    if (message === null) {
      request.log.warn('webhook body is not a WeChat message')
      return reply.code(400).send({ error: 'not_a_wechat_message' })
    }
    const job = toScanJob(message)
    if (job === null || !isOurScene(job.scene)) {
      request.log.debug({ msgType: message.MsgType, event: message.Event }, 'webhook push ignored')
      return reply.type('text/plain; charset=utf-8').send(ACK)
    }
    const outcome = await drivers.scanQueue.enqueue(job, scanDedupKey(job))
    request.log.info({ scene: job.scene, event: job.event, outcome }, 'scan event received')
    return reply.type('text/plain; charset=utf-8').send(ACK)
  })
}

export default webhook
