import cookie from '@fastify/cookie'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isBackendUnavailable } from '../../src/errors.js'
import type { CallbackAnswer } from '../../src/oauth/answers.js'
import { checkReturnTo } from '../../src/oauth/return-to.js'
import { isOurState, newBrowserId } from '../../src/oauth/state.js'
import { DEFAULT_SCOPE } from '../../src/oauth/types.js'
import { BearerHeaders } from '../login/schemas.js'
import { ErrorBodySchema } from '../../src/wire/login.js'
import { clientKey } from '../../src/util/client-key.js'
import { rateLimited } from '../limits.js'
import { backendOnly } from '../backend-only.js'
import { ReauthorizeRequired } from '../errors.js'
import { FORM_CSP, POPUP_CSP, popupPage, sendPage, sendRefusal } from './pages.js'
import { confirmPage } from './confirm-pages.js'
import confirmRoutes from './confirm.js'
import { BROWSER_COOKIE, browserCookieOptions, browserIdOf } from './browser-cookie.js'
import { AuthorizeQuery, CallbackQuery, FreshProfile, ProfileBody, htmlPage, redirect } from './schemas.js'

/**
 * WeChat OAuth2: the visitor's side (/auth/wechat: authorize, callback; HTML pages, the cookie) and
 * the backend's (/api/users/profile: JSON, API key). Mounted only when OAuth is configured.
 */
const oauthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  await fastify.register(visitorRoutes, { prefix: '/auth/wechat' })
  await fastify.register(backendRoutes, { prefix: '/api/users' })
}

const visitorRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { oauth, config } = fastify
  // In this scope only: no other route parses cookies.
  await fastify.register(cookie, { secret: oauth.cookieSecret, hook: 'onRequest' })
  const cookieOptions = browserCookieOptions(config)

  /** The visitor sees pages here, not JSON: every refusal and failure is one. */
  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation !== undefined) {
      request.log.info({ reason: error.message }, 'OAuth request refused: malformed')
      return sendRefusal(reply, 'bad_request')
    }
    if (error.statusCode === 429) return sendRefusal(reply, 'rate_limited')
    if (isBackendUnavailable(error)) {
      request.log.error({ err: error }, 'state store unavailable')
      reply.header('retry-after', '1')
      return sendRefusal(reply, 'unavailable')
    }
    if ((error.statusCode ?? 500) < 500) return sendRefusal(reply, 'bad_request')
    request.log.error({ err: error }, 'OAuth request failed')
    return sendRefusal(reply, 'internal_error')
  })

  fastify.get('/authorize', {
    onRequest: rateLimited(fastify, { max: config.RATE_LIMIT_OAUTH_PER_IP, key: (request) => `oauth-authorize:ip:${clientKey(request.ip)}` }),
    schema: {
      summary: 'Start an OAuth login: sets the browser cookie and redirects to WeChat',
      tags: ['oauth'],
      querystring: AuthorizeQuery,
      response: { 302: redirect('To WeChat\'s consent page (flow=mp) or website QR (flow=web)'), '4xx': htmlPage('A refusal page'), '5xx': htmlPage('A failure page') }
    }
  }, async (request, reply) => {
    const { flow, display = 'page' } = request.query
    // First, before any cookie or redirect: no open redirect, not even through WeChat.
    const returnTo = checkReturnTo(request.query.return_to, oauth.returnOrigins)
    if (returnTo === null) {
      request.log.warn({ flow }, 'OAuth return_to refused: not on ALLOWED_RETURN_ORIGINS')
      return sendRefusal(reply, 'return_to_refused')
    }
    const scope = request.query.scope ?? DEFAULT_SCOPE[flow]
    const browserId = browserIdOf(request) ?? newBrowserId()
    const begun = await oauth.begin({ flow, scope, purpose: 'login', returnTo, display, browserId })
    if (!begun.ok) {
      request.log.info({ flow, scope, reason: begun.reason }, 'OAuth authorize refused')
      return sendRefusal(reply, begun.reason)
    }
    request.log.info({ flow, scope, display, returnOrigin: new URL(returnTo).origin }, 'OAuth authorization started')
    return reply
      .setCookie(BROWSER_COOKIE, browserId, cookieOptions)
      .header('cache-control', 'no-store')
      .redirect(begun.location, 302)
  })

  fastify.get('/callback', {
    onRequest: rateLimited(fastify, { max: config.RATE_LIMIT_OAUTH_PER_IP, key: (request) => `oauth-callback:ip:${clientKey(request.ip)}` }),
    schema: {
      summary: 'WeChat\'s redirect_uri: back to return_to with a login code, or the popup\'s page',
      tags: ['oauth'],
      querystring: CallbackQuery,
      response: {
        200: htmlPage('The popup\'s page: posts the code to its opener at return_to\'s origin, then closes'),
        302: redirect('To return_to?code=…'),
        '4xx': htmlPage('A refusal page'),
        '5xx': htmlPage('A failure page (502: WeChat failed)')
      }
    }
  }, async (request, reply) => {
    const { state, code } = request.query
    if (state === undefined || !isOurState(state)) {
      request.log.info('OAuth callback refused: not one of our states')
      return sendRefusal(reply, 'unknown_state')
    }
    const answer = await oauth.finish({ state, code: code === '' ? undefined : code, browserId: browserIdOf(request) })
    logAnswer(request, answer)
    return sendAnswer(reply, answer)
  })

  // Confirm on the phone: its link and its form, in this scope (the cookie, the refusal pages).
  if (config.LOGIN_REQUIRE_CONFIRM) await fastify.register(confirmRoutes)
}

function logAnswer (request: FastifyRequest, answer: CallbackAnswer): void {
  if (answer.kind === 'confirm_page') {
    request.log.info({ answer: answer.kind }, 'OAuth confirmation page shown')
  } else if (answer.kind !== 'refused') {
    request.log.info({ answer: answer.kind }, 'OAuth login code issued')
  } else if (answer.reason === 'foreign_browser') {
    // Someone else's state in this browser: a login CSRF attempt, or a link shared between devices.
    request.log.warn({ reason: answer.reason }, 'OAuth callback refused')
  } else {
    request.log.info({ reason: answer.reason, errcode: answer.errcode }, 'OAuth callback refused')
  }
}

function sendAnswer (reply: FastifyReply, answer: CallbackAnswer): FastifyReply {
  switch (answer.kind) {
    case 'redirect':
      return reply.header('cache-control', 'no-store').redirect(answer.location, 302)
    case 'post_message':
      return sendPage(reply, 200, popupPage(answer), POPUP_CSP)
    case 'confirm_page':
      return sendPage(reply, 200, confirmPage(answer), FORM_CSP)
    case 'refused':
      return sendRefusal(reply, answer.reason, {
        ...(answer.errcode === undefined ? {} : { errcode: answer.errcode }),
        ...(answer.restart === undefined ? {} : { restart: answer.restart })
      })
  }
}

const backendRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { oauth } = fastify

  /** A fresh profile of a user who logged in with snsapi_userinfo or snsapi_login (the application's backend only). */
  fastify.post('/profile', {
    onRequest: backendOnly(fastify, 'profile'),
    schema: {
      summary: 'A fresh profile of a user who logged in with snsapi_userinfo or snsapi_login (your backend)',
      tags: ['users'],
      security: [{ apiKey: [] }],
      body: ProfileBody,
      headers: BearerHeaders,
      response: { 200: FreshProfile, 401: ErrorBodySchema, 409: ErrorBodySchema, 429: ErrorBodySchema, 502: ErrorBodySchema }
    }
  }, async (request, reply) => {
    const result = await oauth.profile(request.body.openid, request.body.flow)
    if (result.kind === 'reauthorize_required') throw new ReauthorizeRequired()
    return reply.header('cache-control', 'no-store').send({ openid: result.openid, unionid: result.unionid, flow: result.flow, profile: result.profile })
  })
}

export default oauthRoutes
