import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyInstance } from 'fastify'
import type { Emulator } from '../../src/emulator/types.js'
import { EmulatorError, wechatError } from '../../src/emulator/errors.js'
import { createOAuthEmulator, SNS_APIS, type AuthorizePage, type OAuthEmulator, type SnsApi } from '../../src/emulator/oauth.js'
import { authorizeErrorPage, consentPage } from './oauth-pages.js'
import { sendPage } from './pages.js'

export interface OAuthEmulatorRoutesOptions {
  emulator: Emulator
  /** By default one is made from `fastify.config` (the built-in emulator); none without config. */
  oauth?: OAuthEmulator | undefined
}

/** Query values are the client's business: WeChat answers bad ones with an errcode, not a 400. */
const AnyQuery = Type.Object({}, { additionalProperties: Type.Union([Type.String(), Type.Array(Type.String())]) })
const ConsentForm = Type.Object({
  openid: Type.Optional(Type.String({ maxLength: 128 })),
  decision: Type.Optional(Type.String({ maxLength: 16 })),
  snapshot: Type.Optional(Type.String({ maxLength: 8 }))
}, { additionalProperties: Type.String({ maxLength: 2048 }) })
const PhoneUserBody = Type.Object({ openid: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false })
const FailBody = Type.Object({
  api: Type.Union(SNS_APIS.map((api) => Type.Literal(api))),
  errcode: Type.Integer(),
  times: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 }))
}, { additionalProperties: false })

/** The built-in emulator's OAuth side: the Official Account's credentials, and the website app's when configured. */
export function oauthEmulatorFromConfig (fastify: FastifyInstance, emulator: Emulator): OAuthEmulator | null {
  if (!fastify.hasDecorator('config')) return null
  const { config } = fastify
  return createOAuthEmulator({
    mp: { appId: config.WECHAT_APP_ID, appSecret: config.WECHAT_APP_SECRET },
    ...(config.WECHAT_OPEN_APP_ID === undefined || config.WECHAT_OPEN_APP_SECRET === undefined
      ? {}
      : { open: { appId: config.WECHAT_OPEN_APP_ID, appSecret: config.WECHAT_OPEN_APP_SECRET } }),
    users: () => emulator.users,
    now: () => emulator.now()
  })
}

/**
 * open.weixin.qq.com's authorize pages and api.weixin.qq.com's sns/* for the emulator, plus their
 * controls under /_control/oauth. Mounted inside the emulator's scope (its form parser, its prefix).
 */
const oauthEmulatorRoutes: FastifyPluginAsyncTypebox<OAuthEmulatorRoutesOptions> = async (fastify, options) => {
  const configured = options.oauth ?? oauthEmulatorFromConfig(fastify, options.emulator)
  if (configured === null) return
  const oauth: OAuthEmulator = configured

  /** GET shows the page (snsapi_base: straight back, as WeChat does); POST is the visitor's answer. */
  function authorizeRoutes (path: string, kind: AuthorizePage) {
    fastify.get(path, { schema: { querystring: AnyQuery } }, async (request, reply) => {
      const checked = oauth.checkAuthorize(kind, request.query)
      if (!checked.ok) return sendPage(reply, 400, authorizeErrorPage(checked.refusal))
      if (checked.request.scope === 'snsapi_base') return reply.redirect(oauth.approve(checked.request, oauth.phoneUser), 302)
      return sendPage(reply, 200, consentPage(checked.request, options.emulator.users, oauth.phoneUser))
    })

    fastify.post(path, { schema: { body: ConsentForm } }, async (request, reply) => {
      const checked = oauth.checkAuthorize(kind, request.body)
      if (!checked.ok) return sendPage(reply, 400, authorizeErrorPage(checked.refusal))
      if (request.body.decision === 'deny') return reply.redirect(oauth.decline(checked.request), 302)
      const openid = request.body.openid ?? ''
      try {
        const location = oauth.approve(checked.request, openid, { snapshot: request.body.snapshot === '1' })
        // Whoever consents holds the phone from now on: a later snsapi_base is them.
        oauth.setPhoneUser(openid)
        return reply.redirect(location, 302)
      } catch (error) {
        if (!(error instanceof EmulatorError)) throw error
        return sendPage(reply, 400, authorizeErrorPage({ errcode: 0, message: 'Pick a test user · 请选择测试用户' }))
      }
    })
  }
  authorizeRoutes('/connect/oauth2/authorize', 'oauth2')
  authorizeRoutes('/connect/qrconnect', 'qrconnect')

  /** api.weixin.qq.com's sns/*, in a scope whose errors are WeChat-shaped (HTTP 200 with an errcode). */
  await fastify.register(async function snsApi (scope) {
    const api = scope.withTypeProvider<TypeBoxTypeProvider>()
    api.setErrorHandler((error: FastifyError, _request, reply) => {
      if ((error.statusCode ?? 500) < 500) return reply.code(200).send(wechatError(47001))
      throw error
    })
    for (const name of SNS_APIS) {
      api.get(`/${name}`, { schema: { querystring: AnyQuery } }, async (request) => oauth.handle(name, request.query))
    }
  })

  /** Test and demo controls, unauthenticated like the rest of /_control. */
  await fastify.register(async function controls (scope) {
    const control = scope.withTypeProvider<TypeBoxTypeProvider>()
    control.get('/counters', async () => oauth.counters)

    control.post('/phone-user', { schema: { body: PhoneUserBody } }, async (request, reply) => {
      try {
        oauth.setPhoneUser(request.body.openid)
        return { phoneUser: oauth.phoneUser }
      } catch (error) {
        if (error instanceof EmulatorError) return reply.code(404).send({ error: error.code, message: error.message })
        throw error
      }
    })

    control.post('/faults', { schema: { body: FailBody } }, async (request, reply) => {
      try {
        oauth.failNext(request.body.api as SnsApi, request.body.errcode, request.body.times)
        return reply.code(201).send({ ok: true })
      } catch (error) {
        if (error instanceof RangeError) return reply.code(400).send({ error: 'bad_fault', message: error.message })
        throw error
      }
    })

    control.post('/expire-access-tokens', async () => {
      oauth.expireAccessTokens()
      return { ok: true }
    })

    control.post('/revoke-refresh-tokens', async () => {
      oauth.revokeRefreshTokens()
      return { ok: true }
    })

    control.post('/reset', async () => {
      oauth.reset()
      return { ok: true }
    })
  }, { prefix: '/_control/oauth' })
}

export default oauthEmulatorRoutes
