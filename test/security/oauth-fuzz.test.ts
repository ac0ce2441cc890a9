import fc from 'fast-check'
import t from 'tap'
import { TEST_WECHAT } from '../helper.js'
import { Browser, SITE, authorizeAs, buildOAuthApp } from '../oauth/helper.js'
import { extraHeaders, fuzzAgent, headerValue, hostileText, mutated, queryPairs, send, serializeQuery, wellFormed } from './arbitraries.js'

// Tuned for a 2-core box, like the other fuzz files.
const RUNS = 1500

t.test('the OAuth routes: random queries, cookies, headers and bodies never get a 5xx', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'redis', env: { RATE_LIMIT_OAUTH_PER_IP: '0', RATE_LIMIT_EXCHANGE_PER_KEY: '0' } })
  const dispatcher = fuzzAgent()
  t.after(() => dispatcher.close())
  // A real authorization in flight, so some requests reach the state store and WeChat with its state and cookie.
  const browser = new Browser()
  const { callback } = await authorizeAs(browser, app, { flow: 'mp', scope: 'snsapi_userinfo' })
  const realState = new URL(callback).searchParams.get('state') ?? ''
  const realCode = new URL(callback).searchParams.get('code') ?? ''
  const realCookie = browser.cookieHeader(new URL(callback)) ?? ''

  const authorizeQuery = fc.oneof(
    fc.tuple(queryPairs(['flow', 'scope', 'return_to', 'display']), fc.boolean()).map(([pairs, encode]) => serializeQuery(pairs, encode)),
    fc.record({
      flow: fc.constantFrom('mp', 'web', 'scan', ''),
      scope: fc.constantFrom('snsapi_base', 'snsapi_userinfo', 'snsapi_login', 'x'),
      return_to: fc.oneof(fc.constant(`${SITE}/a`), fc.webUrl(), hostileText.map(wellFormed)),
      display: fc.constantFrom('popup', 'page', 'window')
    }, { requiredKeys: [] }).map((query) => new URLSearchParams(query).toString())
  )
  const callbackQuery = fc.oneof(
    fc.tuple(queryPairs(['code', 'state']), fc.boolean()).map(([pairs, encode]) => serializeQuery(pairs, encode)),
    fc.record({
      state: fc.oneof(fc.constant(realState), mutated(realState), fc.stringMatching(/^[A-Za-z0-9]{32}$/)),
      code: fc.oneof(fc.constant(realCode), mutated(realCode), hostileText.map(wellFormed))
    }, { requiredKeys: [] }).map((query) => new URLSearchParams(query).toString())
  )
  // Only what undici sends as a header: visible ASCII.
  const asHeader = (value: string) => value.replace(/[^\x20-\x7e]/g, '')
  const cookie = fc.option(fc.oneof(fc.constant(realCookie), mutated(realCookie).map(asHeader), headerValue.map((value) => `wql_oauth_browser=${value}`), headerValue), { nil: undefined })
  const profileBody = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
    fc.record({ openid: fc.oneof(hostileText, fc.jsonValue({ maxDepth: 1 })), flow: fc.constantFrom('mp', 'web', 'scan', 7) }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
    hostileText,
    fc.constantFrom('{"__proto__":{"polluted":true},"openid":"x"}', `{"openid":"${'o'.repeat(70_000)}"}`)
  )

  const request = fc.oneof(
    fc.record({ method: fc.constant('GET'), path: fc.constant('/auth/wechat/authorize'), query: authorizeQuery, cookie, headers: extraHeaders }),
    fc.record({ method: fc.constant('GET'), path: fc.constant('/auth/wechat/callback'), query: callbackQuery, cookie, headers: extraHeaders }),
    fc.record({
      method: fc.constant('POST'),
      path: fc.constant('/api/users/profile'),
      query: fc.constant(''),
      body: profileBody,
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''),
      authorization: fc.oneof(fc.constant(`Bearer ${TEST_WECHAT.API_KEY}`), headerValue),
      headers: extraHeaders
    }),
    fc.record({ method: fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH'), path: fc.constantFrom('/auth/wechat/authorize', '/auth/wechat/callback', '/auth/wechat/', '/api/users/profile'), query: fc.constant(''), headers: extraHeaders })
  )

  const statuses = new Map<number, number>()
  await fc.assert(fc.asyncProperty(request, async (input) => {
    const headers: Record<string, string> = { ...input.headers }
    if ('cookie' in input && input.cookie !== undefined) headers.cookie = input.cookie
    if ('contentType' in input && input.contentType !== '') headers['content-type'] = input.contentType
    if ('authorization' in input) headers.authorization = input.authorization
    let response
    try {
      response = await send(dispatcher, app.url, { method: input.method, path: `${input.path}?${input.query}`, headers, ...('body' in input ? { body: input.body } : {}) })
    } catch (error) {
      // A body over Fastify's bodyLimit may be answered (413) and the connection closed before it was all sent.
      if ('body' in input && Buffer.byteLength(input.body) > 60_000) return
      throw error
    }
    if (response === null) return
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    if (response.status >= 500) throw new Error(`HTTP ${response.status} for ${input.method} ${input.path}?${input.query}: ${response.body.slice(0, 300)}`)
  }), { numRuns: RUNS })

  t.ok((statuses.get(302) ?? 0) > 0, `some authorizations started; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok((statuses.get(400) ?? 0) > 0, 'some were refused')
  t.same(app.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50), [], 'no error-level log line')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.equal((await fetch(`${app.url}/healthz`)).status, 200, 'the app is still up')
})
