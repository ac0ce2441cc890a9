import fc from 'fast-check'
import t from 'tap'
import { build, createLogin, startEmulator } from '../helper.js'
import { Browser, TEST_TOKEN_ENC_KEY, formFields } from '../oauth/helper.js'
import { extraHeaders, fuzzAgent, headerValue, hostileText, mutated, queryPairs, send, serializeQuery, wellFormed } from './arbitraries.js'

// Tuned for a 2-core box, like the other fuzz files.
const RUNS = 800

t.test('the confirmation routes: random scenes, forms, cookies and headers never get a 5xx nor decide anything', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, {
    emulator,
    env: { LOGIN_REQUIRE_CONFIRM: '1', WECHAT_OPEN_BASE: emulator.url, TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY, RATE_LIMIT_OAUTH_PER_IP: '0' }
  })
  const dispatcher = fuzzAgent()
  t.after(() => dispatcher.close())
  // A real confirmation page in flight: its scene, its sealed form and its cookie, to mutate.
  const login = await createLogin(app)
  const scanner = emulator.emulator.users[0]?.openid ?? ''
  const { reply } = await emulator.emulator.scan(login.ticket, scanner)
  const link = reply.kind === 'text' ? /<a href="([^"]+)">/.exec(reply.content)?.[1] ?? '' : ''
  const phone = new Browser()
  const started = await phone.get(link)
  const consent = await phone.get(started.location ?? '')
  const allowed = await phone.post((started.location ?? '').split('?')[0] ?? '', { ...formFields(consent.body), openid: scanner, decision: 'allow' })
  const page = await phone.get(allowed.location ?? '')
  const realForm = /name="form" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
  t.ok(realForm.length > 40, 'a real form to mutate')
  const realCookie = phone.cookieHeader(new URL(`${app.url}/auth/wechat/confirm`)) ?? ''

  const confirmQuery = fc.oneof(
    fc.tuple(queryPairs(['scene']), fc.boolean()).map(([pairs, encode]) => serializeQuery(pairs, encode)),
    fc.oneof(fc.constant(login.scene), mutated(login.scene), fc.stringMatching(/^[A-Za-z0-9_-]{32}$/)).map((scene) => new URLSearchParams({ scene }).toString())
  )
  const formBody = fc.oneof(
    fc.tuple(queryPairs(['form', 'decision']), fc.boolean()).map(([pairs, encode]) => serializeQuery(pairs, encode)),
    fc.record({
      // A mutation that decodes to the same sealed bytes (base64's unused trailing bits) is the real form.
      form: fc.oneof(mutated(realForm).filter((form) => !sameBytes(form, realForm)), hostileText.map(wellFormed), fc.constant('v1.' + 'A'.repeat(60))),
      decision: fc.constantFrom('confirm', 'deny', 'maybe', '')
    }, { requiredKeys: [] }).map((form) => new URLSearchParams(form).toString())
  )
  const cookie = fc.option(fc.oneof(fc.constant(realCookie), mutated(realCookie).map((value) => value.replace(/[^\x20-\x7e]/g, '')), headerValue), { nil: undefined })
  const request = fc.oneof(
    fc.record({ method: fc.constant('GET'), query: confirmQuery, body: fc.constant(undefined), contentType: fc.constant(''), cookie, headers: extraHeaders }),
    fc.record({ method: fc.constant('POST'), query: fc.constant(''), body: formBody, contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', ''), cookie, headers: extraHeaders })
  )

  const statuses = new Map<number, number>()
  await fc.assert(fc.asyncProperty(request, async (input) => {
    const headers: Record<string, string> = { ...input.headers }
    if (input.cookie !== undefined) headers.cookie = input.cookie
    if (input.contentType !== '') headers['content-type'] = input.contentType
    const response = await send(dispatcher, app.url, { method: input.method, path: `/auth/wechat/confirm?${input.query}`, headers, ...(input.body === undefined ? {} : { body: input.body }) })
    if (response === null) return
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    if (response.status >= 500) throw new Error(`HTTP ${response.status} for ${input.method} ?${input.query}: ${response.body.slice(0, 300)}`)
  }), { numRuns: RUNS })

  t.ok((statuses.get(302) ?? 0) > 0, `some confirmations started; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok((statuses.get(400) ?? 0) > 0, 'some were refused')
  const status = await (await fetch(`${app.url}/api/login/status?scene=${login.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })).json()
  t.match(status, { status: 'scanned' }, 'no mutated form decided the login')
  t.same(app.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50), [], 'no error-level log line')
  t.equal((await fetch(`${app.url}/healthz`)).status, 200, 'the app is still up')
})

function sameBytes (form: string, real: string): boolean {
  const decode = (value: string) => Buffer.from(value.replace(/^v\d+\./, ''), 'base64url')
  return form.split('.')[0] === real.split('.')[0] && decode(form).equals(decode(real))
}
