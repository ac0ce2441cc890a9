import formbody from '@fastify/formbody'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { isOurScene } from '../../src/login/tokens.js'
import { confirmUrl } from '../../src/oauth/endpoints.js'
import { newBrowserId } from '../../src/oauth/state.js'
import { clientKey } from '../../src/util/client-key.js'
import { rateLimited } from '../limits.js'
import { BROWSER_COOKIE, browserCookieOptions, browserIdOf } from './browser-cookie.js'
import { decidedPage } from './confirm-pages.js'
import { sendPage, sendRefusal } from './pages.js'
import { loginLogKey } from '../../src/login/log-key.js'

const ConfirmQuery = Type.Object({ scene: Type.String({ maxLength: 128 }) })
const DecisionForm = Type.Object({
  /** The sealed form of the confirmation page (src/oauth/confirm-purpose.ts). */
  form: Type.String({ minLength: 1, maxLength: 4096 }),
  decision: Type.Union([Type.Literal('confirm'), Type.Literal('deny')])
})

/**
 * Confirm on the phone (LOGIN_REQUIRE_CONFIRM), under /auth/wechat in the OAuth visitor scope (its
 * cookie, its refusal pages). GET /confirm?scene= is the link the scanner's phone received: an
 * OAuth authorization (snsapi_userinfo, the Official Account) whose callback shows the page. POST
 * /confirm is the page's form: confirm or deny, from the browser that went through the callback.
 */
const confirmRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { oauth, config } = fastify
  const cookieOptions = browserCookieOptions(config)
  const ownOrigin = new URL(config.PUBLIC_URL).origin
  await fastify.register(formbody, { bodyLimit: 8192 })

  fastify.get('/confirm', {
    onRequest: rateLimited(fastify, { max: config.RATE_LIMIT_OAUTH_PER_IP, key: (request) => `oauth-confirm:ip:${clientKey(request.ip)}` }),
    schema: { querystring: ConfirmQuery }
  }, async (request, reply) => {
    const { scene } = request.query
    if (!isOurScene(scene)) return sendRefusal(reply, 'bad_request')
    // A finished or expired login needs no consent screen to say so.
    const problem = await oauth.confirmation.startable(scene)
    if (problem !== null) {
      request.log.info({ login: loginLogKey(scene), reason: problem }, 'confirmation link refused')
      return sendRefusal(reply, problem)
    }
    const browserId = browserIdOf(request) ?? newBrowserId()
    const begun = await oauth.begin({ flow: 'mp', scope: 'snsapi_userinfo', purpose: 'confirm', returnTo: confirmUrl(config, scene), display: 'page', browserId })
    if (!begun.ok) return sendRefusal(reply, begun.reason)
    request.log.info({ login: loginLogKey(scene) }, 'confirmation started')
    return reply
      .setCookie(BROWSER_COOKIE, browserId, cookieOptions)
      .header('cache-control', 'no-store')
      .redirect(begun.location, 302)
  })

  fastify.post('/confirm', {
    onRequest: rateLimited(fastify, { max: config.RATE_LIMIT_OAUTH_PER_IP, key: (request) => `oauth-decide:ip:${clientKey(request.ip)}` }),
    schema: { body: DecisionForm }
  }, async (request, reply) => {
    // The form is bound to this browser's cookie (SameSite=Lax: never sent with another site's
    // POST); a page of another origin posting here is refused before that even matters. Our own
    // pages send "Origin: null" (their referrer policy is no-referrer): the cookie decides then.
    const origin = request.headers.origin
    if (origin !== undefined && origin !== 'null' && origin !== ownOrigin) {
      request.log.warn({ origin: origin.slice(0, 200) }, 'confirmation refused: posted from another origin')
      return sendRefusal(reply, 'foreign_browser')
    }
    const answer = await oauth.confirmation.decide({ form: request.body.form, browserId: browserIdOf(request), decision: request.body.decision })
    if (answer.kind === 'refused') {
      const level = answer.reason === 'foreign_browser' || answer.reason === 'bad_request' ? 'warn' : 'info'
      request.log[level]({ reason: answer.reason }, 'confirmation refused')
      return sendRefusal(reply, answer.reason)
    }
    return sendPage(reply, 200, decidedPage(answer.decision))
  })
}

export default confirmRoutes
