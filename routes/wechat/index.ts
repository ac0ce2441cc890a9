import { hash } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { scanDedupKey, toScanJob } from '../../src/jobs/definitions.js'
import { EventNotKept } from '../../src/jobs/scan-intake.js'
import { loginLogKey } from '../../src/login/log-key.js'
import { isOurScene } from '../../src/login/tokens.js'
import { createMessageCrypto } from '../../src/wechat/crypto.js'
import { toWeChatMessage, type WeChatMessage } from '../../src/wechat/events.js'
import { ErrorBodySchema } from '../../src/wire/login.js'
import { MalformedXml, MissingEchostr, NotAWeChatMessage, SignatureReused, Unavailable, withLog } from '../errors.js'
import { confirmUrl } from '../../src/oauth/endpoints.js'
import { openPush } from './encryption.js'
import { confirmLinkText, passiveReply, textReplyXml } from './reply.js'
import { signedRequestHook } from './signed-request.js'
import { registerXmlParser } from './xml-body.js'

const SignedQuery = Type.Object({
  signature: Type.Optional(Type.String({ maxLength: 128 })),
  timestamp: Type.Optional(Type.String({ maxLength: 32 })),
  nonce: Type.Optional(Type.String({ maxLength: 128 })),
  echostr: Type.Optional(Type.String({ maxLength: 1024 })),
  openid: Type.Optional(Type.String({ maxLength: 128 })),
  /** "aes" in compatible and safe mode; absent (or "raw") in plaintext mode. */
  encrypt_type: Type.Optional(Type.String({ maxLength: 16 })),
  msg_signature: Type.Optional(Type.String({ maxLength: 128 }))
})

/**
 * What the webhook answers, unless a scan gets a passive reply (confirm mode): "success" means
 * "received, no passive reply", so WeChat neither retries nor shows the user anything. It is not a
 * passive reply, which is why it is never encrypted, in safe mode included (WeChat's documentation
 * allows it there too).
 */
const ACK = 'success'

/** The message's fields in a fixed order: the same push always gives the same fingerprint. */
function fingerprint (message: WeChatMessage): string {
  const fields = Object.entries(message).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return hash('sha256', JSON.stringify(fields), 'hex')
}

/** A URL check's: never equal to a push's, so its signature cannot carry a push. */
function urlCheckFingerprint (echostr: string): string {
  return hash('sha256', JSON.stringify([['url-check', echostr]]), 'hex')
}

/**
 * WeChat reads only the status of a refusal: Fastify's own refusals here carry their code alone.
 * Every push logs its own line (a queued scan, a refusal): Fastify's request lines go to debug.
 * WeChat's servers are no browser: the browser security headers would be bytes on every answer.
 */
const WECHAT_FACING = { codeOnlyErrors: true, requestLog: 'outcome', securityHeaders: false } as const

const webhook: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, drivers, metrics, scanIntake } = fastify
  // A signature is accepted only inside the timestamp window, either side of our clock.
  const signatureTtlMs = 2 * config.WECHAT_TIMESTAMP_TOLERANCE_SECONDS * 1000
  // Built at boot, so a bad EncodingAESKey stops the server rather than the first push.
  const messageCrypto = config.WECHAT_ENCODING_AES_KEY === undefined
    ? null
    : createMessageCrypto({ token: config.WECHAT_TOKEN, encodingAesKey: config.WECHAT_ENCODING_AES_KEY, appId: config.WECHAT_APP_ID })

  await registerXmlParser(fastify, config.WEBHOOK_BODY_LIMIT)

  // Before the body is read: an unsigned or stale request costs us no parsing and enqueues nothing.
  fastify.addHook('onRequest', signedRequestHook({ token: config.WECHAT_TOKEN, toleranceSeconds: config.WECHAT_TIMESTAMP_TOLERANCE_SECONDS }))
  // The handler names its outcome, the root error handler a refusal's code; anything else by its status.
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.webhookRequests.inc({ outcome: request.outcome ?? `status_${reply.statusCode}` })
    done()
  })

  // Before the handler ran, the only failures without a code of their own are the XML parser's: its
  // validator's (a 400 with no code) and its crashes (no status). Either way the body could not be
  // read as XML: malformed_xml. Every error goes on to the root handler.
  fastify.setErrorHandler(async (error: Error & { statusCode?: number, code?: string }, request) => {
    if (error.code === undefined && (error.statusCode === undefined || error.statusCode === 400) && request.body === undefined) {
      throw withLog(new MalformedXml('webhook body'), { reason: error.message })
    }
    throw error
  })

  /**
   * The URL check of the WeChat console: echo `echostr` once the signature matched (every mode).
   * Its signature enters the ledger too: a URL check seen in a log must not be replayed as a push.
   */
  fastify.get('/webhook', {
    schema: {
      summary: 'WeChat\'s URL check: echoes echostr when the signature matches',
      tags: ['wechat'],
      querystring: SignedQuery,
      response: { 200: { description: 'echostr', content: { 'text/plain': { schema: Type.String() } } }, '4xx': ErrorBodySchema }
    },
    config: WECHAT_FACING
  }, async (request, reply) => {
    const { echostr } = request.query
    if (echostr === undefined) throw new MissingEchostr()
    const claim = await drivers.signatureLedger.claim(String(request.query.signature), urlCheckFingerprint(echostr), signatureTtlMs)
    if (claim === 'different') throw new SignatureReused()
    request.outcome = 'verified'
    return reply.type('text/plain; charset=utf-8').send(echostr)
  })

  fastify.post('/webhook', {
    schema: {
      summary: 'WeChat pushes an event or message (signed XML, text/xml)',
      description: 'QR scans of our logins are queued (deduplicated); everything else is acknowledged and ignored. ' +
        'The README\'s Security section lists every refusal and its code.',
      tags: ['wechat'],
      querystring: SignedQuery,
      response: {
        200: { description: '"success": received, no passive reply', content: { 'text/plain': { schema: Type.String() } } },
        '4xx': ErrorBodySchema,
        503: ErrorBodySchema
      }
    },
    config: WECHAT_FACING
  }, async (request, reply) => {
    const push = openPush(request.body, request.query, messageCrypto, config.WECHAT_ALLOW_PLAINTEXT)
    const message = toWeChatMessage(push.body)
    if (message === null) throw new NotAWeChatMessage()
    const parsed = toScanJob(message)
    const scan = parsed !== null && isOurScene(parsed.scene) ? { ...parsed, reqId: request.id, receivedAt: Date.now() } : null
    // Answered only once the scan is kept (queued, or spooled while Redis is away): an error status
    // would be an answer, and WeChat would not send the scan again. The signature does not cover a
    // plaintext body: one signature, one body (WeChat's retries resend the same).
    let outcome
    try {
      outcome = await scanIntake.keep({ signature: String(request.query.signature), fingerprint: fingerprint(message), scan, dedupKey: scan === null ? '' : scanDedupKey(scan) })
    } catch (error) {
      // Past WeChat's deadline by now: this answer reaches no one, and WeChat sends the push again.
      if (error instanceof EventNotKept) throw new Unavailable({ cause: error })
      throw error
    }
    if (outcome === 'signature_reused') throw new SignatureReused()
    request.outcome = outcome
    if (scan === null) {
      request.log.debug({ msgType: message.MsgType, event: message.Event }, 'webhook push ignored')
      return reply.type('text/plain; charset=utf-8').send(ACK)
    }
    request.log.info({ login: loginLogKey(scan.scene), event: scan.event, outcome }, 'scan event received')
    if (config.LOGIN_REQUIRE_CONFIRM) {
      // Every delivery, retries ('duplicate') included: WeChat retries only what it did not get.
      const answer = passiveReply(textReplyXml(message, confirmLinkText(confirmUrl(config, scan.scene)), Date.now() / 1000), push, messageCrypto)
      return reply.type(answer.contentType).send(answer.body)
    }
    return reply.type('text/plain; charset=utf-8').send(ACK)
  })
}

export default webhook
