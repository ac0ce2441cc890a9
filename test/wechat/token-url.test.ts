import { once } from 'node:events'
import { createServer } from 'node:http'
import t, { type Test } from 'tap'
import { TEST_WECHAT } from '../helper.js'
import { assertNothingSecretLogged, counters, createLoginQr, created, fire, logLines, startInstances, startTokenEmulator, type TokenEmulator } from './token-fixtures.js'

interface ServiceRequest {
  url: string
  authorization: string | undefined
}

interface TokenService {
  port: number
  requests: ServiceRequest[]
  /** What the service answers; by default a token from the emulator (normal mode), as a real central service would. */
  answer: (() => { status: number, body: unknown }) | null
}

/** A company's central token service: it alone talks to WeChat (here, the emulator, in process). */
async function startTokenService (t: Test, emulator: TokenEmulator): Promise<TokenService> {
  const service: TokenService = { port: 0, requests: [], answer: null }
  const server = createServer((request, response) => {
    service.requests.push({ url: request.url ?? '', authorization: request.headers.authorization })
    const reply = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (service.answer !== null) {
      const { status, body } = service.answer()
      reply(status, body)
      return
    }
    const body = { grant_type: 'client_credential', appid: TEST_WECHAT.WECHAT_APP_ID, secret: TEST_WECHAT.WECHAT_APP_SECRET }
    emulator.emulator.handle('stable_token', { method: 'POST', query: {}, body }).then((outcome) => {
      reply(outcome.kind === 'json' ? 200 : 503, outcome.kind === 'json' ? outcome.body : {})
    }, () => reply(500, {}))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  service.port = (server.address() as { port: number }).port
  return service
}

t.test('WECHAT_TOKEN_URL: 1000 calls from cold → 1 request to the central service, no token call of ours; invalidated → 1 re-fetch from it, never forced (requests 1 → 2)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const service = await startTokenService(t, emulator)
  const url = `http://wql:central-pass@127.0.0.1:${service.port}/token?appid=${TEST_WECHAT.WECHAT_APP_ID}`
  const { apps } = await startInstances(t, emulator, 5, { WECHAT_TOKEN_URL: url })

  t.equal(created(await fire(apps, 200)), 1000, 'all 1000 calls succeed')
  t.equal(service.requests.length, 1, 'one request to the central service')
  t.equal(counters(emulator).tokenFetches, 1, 'and every token fetch WeChat saw was the service\'s')
  t.same(service.requests[0], {
    url: `/token?appid=${TEST_WECHAT.WECHAT_APP_ID}`,
    authorization: `Basic ${Buffer.from('wql:central-pass').toString('base64')}`
  }, 'GET with the URL\'s credentials as HTTP Basic, not in the URL')

  emulator.emulator.invalidateTokens()
  t.equal(created(await fire(apps, 200)), 1000, 'all 1000 calls recover')
  t.equal(service.requests.length, 2, 'one more request to the central service')
  t.equal(counters(emulator).tokenFetches, 2, 'still only the service\'s fetches')
  t.same(logLines(apps, '"forced":true'), [], 'never a forced refresh')
  assertNothingSecretLogged(t, apps, emulator, ['central-pass'])
})

t.test('WECHAT_TOKEN_URL answering badly → an error for the caller, never a token (5 bad answers, then a good one)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const service = await startTokenService(t, emulator)
  const { apps } = await startInstances(t, emulator, 1, {
    WECHAT_TOKEN_URL: `http://127.0.0.1:${service.port}/token`,
    WECHAT_RETRY_DEADLINE_MS: '0'
  })
  const [app] = apps
  const cases: Array<[string, number, unknown, Record<string, unknown>]> = [
    ['HTTP 500', 500, { access_token: 'ignored', expires_in: 7200 }, { error: 'wechat_unreachable', message: /token_url: http_status/ }],
    ['HTTP 200 without access_token', 200, { expires_in: 7200 }, { error: 'wechat_unreachable', message: /token_url: bad_response/ }],
    ['HTTP 200 without expires_in', 200, { access_token: 'no-lifetime' }, { error: 'wechat_unreachable', message: /token_url: bad_response/ }],
    ['HTTP 200, not an object', 200, ['no'], { error: 'wechat_unreachable', message: /token_url: bad_response/ }],
    ['a WeChat errcode passed on', 200, { errcode: 40164, errmsg: 'invalid ip' }, { error: 'wechat_error', errcode: 40164 }]
  ]
  for (const [name, status, body, expected] of cases) {
    service.answer = () => ({ status, body })
    t.match(await createLoginQr(app!), { status: 502, body: expected }, name)
  }
  t.equal(counters(emulator).qrCreates, 0, 'no WeChat call with a token that is not one')
  service.answer = null
  t.equal((await createLoginQr(app!)).status, 201, 'a good answer: back to work')
  t.equal(service.requests.length, 6, 'one request per call: nothing cached from a bad answer')
})
