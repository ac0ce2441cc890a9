import formbody from '@fastify/formbody'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import QRCode from 'qrcode'
import { createEmulator } from '../../src/emulator/emulator.js'
import { EmulatorError, wechatError } from '../../src/emulator/errors.js'
import type { EmulatedApi } from '../../src/emulator/faults.js'
import type { PushMode } from '../../src/emulator/push.js'
import type { Emulator } from '../../src/emulator/types.js'
import { listeningOrigin } from '../../src/util/listening-url.js'
import control, { scanFailureStatus } from './control.js'
import { resultPage, scanPage, sendPage, type ScanOutcome } from './pages.js'
import oauthEmulatorRoutes, { oauthEmulatorFromConfig } from './oauth.js'
import type { OAuthEmulator } from '../../src/emulator/oauth.js'
import type { PhoneMessage } from '../../src/emulator/reply.js'

export interface EmulatorPluginOptions {
  /** The emulator to serve; by default one is made from `fastify.config` and closed with the server. */
  emulator?: Emulator
  /** Its OAuth side (authorize pages, sns/*); by default one is made from `fastify.config`. */
  oauth?: OAuthEmulator
}

/** Query values are the client's business: WeChat answers bad ones with an errcode, not a 400. */
const AnyQuery = Type.Object({}, { additionalProperties: Type.Union([Type.String(), Type.Array(Type.String())]) })
const TicketQuery = Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 512 })) })
const ScanForm = Type.Object({
  ticket: Type.Optional(Type.String({ maxLength: 512 })),
  openid: Type.Optional(Type.String({ maxLength: 128 })),
  mode: Type.Optional(Type.String({ maxLength: 16 }))
})

/** WeChat's showqrcode serves 430 px images. */
const QR_IMAGE_WIDTH = 430

/** The built-in emulator of `WECHAT_EMULATOR=1`: pushes go to this very server's webhook. */
function emulatorFromConfig (fastify: FastifyInstance): Emulator {
  if (!fastify.hasDecorator('endpoints')) throw new Error('the emulator routes need the `emulator` option or the app (config and endpoints decorators)')
  const { config } = fastify
  const ownOrigin = () => listeningOrigin(fastify.server)
  const { phoneBase } = fastify.endpoints
  if (phoneBase === null) throw new Error('the emulator routes are mounted only with WECHAT_EMULATOR=1')
  return createEmulator({
    appId: config.WECHAT_APP_ID,
    appSecret: config.WECHAT_APP_SECRET,
    token: config.WECHAT_TOKEN,
    mode: config.WECHAT_EMULATOR_MODE,
    ...(config.WECHAT_ENCODING_AES_KEY === undefined ? {} : { encodingAesKey: config.WECHAT_ENCODING_AES_KEY }),
    webhookUrl: () => {
      const origin = ownOrigin()
      if (origin === null) throw new Error('the server does not listen on a TCP port yet')
      return `${origin}/wechat/webhook`
    },
    publicBase: () => phoneBase
  })
}

/**
 * A stand-in for WeChat (api.weixin.qq.com, mp.weixin.qq.com and the phone) so the service runs and is
 * tested without a WeChat account. It impersonates WeChat and has unauthenticated controls: never
 * mount it in production. Encapsulated: its parsers and error handler stay inside.
 */
const emulatorRoutes: FastifyPluginAsyncTypebox<EmulatorPluginOptions> = async (fastify, options) => {
  const emulator = options.emulator ?? emulatorFromConfig(fastify)
  if (options.emulator === undefined) fastify.addHook('onClose', async () => emulator.close())
  // Its OAuth side, when it has one: whoever scans holds the phone, so the confirmation link they
  // receive opens WeChat's consent page as them.
  const oauth = options.oauth ?? oauthEmulatorFromConfig(fastify, emulator) ?? undefined
  const holdPhone = (openid: string) => { if (oauth !== undefined && emulator.users.some((user) => user.openid === openid)) oauth.setPhoneUser(openid) }
  // Injected latency must not hold the server's close.
  const closing = new AbortController()
  fastify.addHook('preClose', async () => closing.abort())

  if (!fastify.hasContentTypeParser('application/x-www-form-urlencoded')) {
    await fastify.register(formbody, { bodyLimit: 8192 })
  }

  async function answer (api: EmulatedApi, request: FastifyRequest, reply: FastifyReply) {
    const outcome = await emulator.handle(api, {
      method: request.method,
      query: request.query as Record<string, unknown>,
      body: request.body
    }, { signal: closing.signal })
    if (outcome.kind === 'json') return reply.send(outcome.body)
    if (outcome.mode === '503') {
      return reply.code(503).type('text/html; charset=utf-8').send('<html><body><h1>503 Service Unavailable</h1></body></html>')
    }
    // An outage: the connection drops without an answer, as when WeChat's front end is unreachable.
    // Destroying the response destroys its socket (and rejects an inject() with LIGHT_ECONNRESET).
    reply.hijack()
    reply.raw.destroy()
    return reply
  }

  /** api.weixin.qq.com, in its own scope: WeChat reads the body as JSON whatever the content type says. */
  await fastify.register(async function wechatApi (api) {
    api.removeAllContentTypeParsers()
    api.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 65536 }, (_request, body, done) => done(null, body))
    api.setErrorHandler((error: FastifyError, _request, reply) => {
      // Whatever WeChat cannot read is HTTP 200 with an errcode, like any other WeChat error.
      if ((error.statusCode ?? 500) < 500) return reply.code(200).send(wechatError(47001))
      throw error
    })

    const route = (name: EmulatedApi) => ({
      schema: { querystring: AnyQuery },
      handler: (request: FastifyRequest, reply: FastifyReply) => answer(name, request, reply)
    })
    api.get('/cgi-bin/token', route('token'))
    api.get('/cgi-bin/stable_token', route('stable_token'))
    api.post('/cgi-bin/stable_token', route('stable_token'))
    api.get('/cgi-bin/qrcode/create', route('qrcode/create'))
    api.post('/cgi-bin/qrcode/create', route('qrcode/create'))
    api.get('/cgi-bin/user/info', route('user/info'))
  })

  /** mp.weixin.qq.com's image of a ticket (a PNG here; WeChat's is a JPEG). */
  fastify.get('/cgi-bin/showqrcode', { schema: { querystring: TicketQuery } }, async (request, reply) => {
    const found = request.query.ticket === undefined ? null : emulator.findQrCode(request.query.ticket)
    if (found === null) return reply.code(404).type('text/plain; charset=utf-8').send('unknown ticket')
    const image = await QRCode.toBuffer(found.code.url, { type: 'png', width: QR_IMAGE_WIDTH, margin: 2, errorCorrectionLevel: 'M' })
    return reply.type('image/png').header('cache-control', 'no-store').send(image)
  })

  /** The "phone": what a QR code opens. */
  fastify.get('/scan', { schema: { querystring: TicketQuery } }, async (request, reply) => {
    const { ticket } = request.query
    const found = ticket === undefined ? null : emulator.findQrCode(ticket)
    if (found === null) {
      return sendPage(reply, 404, resultPage({ ok: false, heading: 'Unknown QR code', detail: 'This emulator did not create this QR code.' }, undefined))
    }
    if (found.expired) {
      return sendPage(reply, 410, resultPage({ ok: false, heading: 'QR code expired', detail: 'Ask the website for a new QR code.' }, undefined))
    }
    return sendPage(reply, 200, scanPage(found.code, emulator.users, emulator.now(), { mode: emulator.mode, modes: emulator.modes }))
  })

  fastify.post('/scan', { schema: { body: ScanForm } }, async (request, reply) => {
    const { ticket, openid, mode } = request.body
    if (ticket === undefined || ticket === '' || openid === undefined || openid === '') {
      return sendPage(reply, 400, resultPage({ ok: false, heading: 'Nothing scanned', detail: 'Pick a test user, then tap Scan.' }, ticket))
    }
    const before = emulator.users.find((user) => user.openid === openid)
    let outcome: ScanOutcome
    let message: PhoneMessage | undefined
    let status = 200
    try {
      // An unknown mode is refused by the emulator (unsupported_mode → 400), not silently replaced.
      const result = await emulator.scan(ticket, openid, mode === undefined || mode === '' ? {} : { mode: mode as PushMode })
      holdPhone(openid)
      const event = result.push.fields.Event === 'subscribe' ? 'subscribe (first follow)' : 'SCAN (already following)'
      const accepted = result.status === 200
      message = result.reply
      const answer = result.reply.kind === 'none' ? (result.body === '' ? '(empty answer)' : result.body.slice(0, 200)) : 'a passive reply (above)'
      outcome = {
        ok: accepted,
        heading: accepted ? `Pushed to the service: ${answer}` : `The service answered HTTP ${result.status}`,
        detail: `${before?.nickname ?? openid} scanned; event ${event}, ${result.push.mode} mode.${accepted ? '' : ` Answer: ${result.body.slice(0, 500)}`}`
      }
    } catch (error) {
      if (!(error instanceof EmulatorError)) throw error
      status = scanFailureStatus(error)
      outcome = { ok: false, heading: 'Scan failed', detail: error.message }
    }
    return sendPage(reply, status, resultPage(outcome, ticket, message))
  })

  await fastify.register(control, { emulator, holdPhone, prefix: '/_control' })
  await fastify.register(oauthEmulatorRoutes, { emulator, oauth })
}

export default emulatorRoutes
