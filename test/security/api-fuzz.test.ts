import { request as httpRequest } from 'node:http'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { build, createLogin, startEmulator, TEST_WECHAT, type TestApp } from '../helper.js'
import {
  extraHeaders, fuzzAgent, headerValue, hostileText, mutated, queryPairs, send, serializeQuery, wellFormed, type FuzzResponse
} from './arbitraries.js'

// Tuned for a 2-core box: the whole file stays well under tap's 60 s.
const HTTP_RUNS = 3000
const LIMITED_RUNS = 400
const HANDSHAKE_RUNS = 400

const NO_LIMITS = { RATE_LIMIT_QR_PER_IP: '0', RATE_LIMIT_QR_GLOBAL: '0', RATE_LIMIT_STATUS_PER_IP: '0', RATE_LIMIT_EXCHANGE_PER_KEY: '0' }

interface Known {
  scene: string
  secret: string
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'text/xml', 'multipart/form-data; boundary=x', 'application/octet-stream', 'APPLICATION/JSON', '']

const jsonish: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  fc.constant(undefined),
  hostileText,
  fc.uint8Array({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.record({ code: fc.oneof(hostileText, fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
  mutated('{"code":"abcdefghijklmnopqrstuvwxyz012345"}'),
  fc.constantFrom('{"__proto__":{"polluted":true},"code":"x"}', '{"constructor":{"prototype":{"polluted":true}}}', '{"code":"x","code":"y"}', '[]', 'null', '{"code":null}', `{"code":"${'a'.repeat(70_000)}"}`),
  fc.integer({ min: 1, max: 200 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`)
)

const paths = fc.constantFrom(
  '/api/login/qr', '/api/login/status', '/api/login/exchange', '/api/login/ws', '/api/login/qr/', '/api/login', '/', '/index.html', '/js/main.js',
  '/api/login/status/../qr', '/%2e%2e/%2e%2e/etc/passwd', '/static/..%2f..%2fpackage.json', '/api//login/qr', '/healthz', '/readyz', '/API/LOGIN/QR'
)

/** Mostly the real routes with their methods, sometimes anything. */
const target = fc.oneof(
  { arbitrary: fc.constant({ method: 'POST', path: '/api/login/qr' }), weight: 2 },
  { arbitrary: fc.constant({ method: 'GET', path: '/api/login/status' }), weight: 3 },
  { arbitrary: fc.constant({ method: 'POST', path: '/api/login/exchange' }), weight: 4 },
  { arbitrary: fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'), path: paths }), weight: 2 }
)

function httpCase (known: () => Known) {
  return fc.record({
    target,
    query: fc.oneof(
      fc.tuple(queryPairs(['scene', 'secret', 'code', 'access_token']), fc.boolean()).map(([pairs, encode]) => serializeQuery(pairs, encode)),
      fc.constant('').map(() => `scene=${known().scene}`),
      hostileText.map((scene) => `scene=${encodeURIComponent(wellFormed(scene))}`)
    ),
    contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
    authorization: fc.option(fc.oneof(
      headerValue,
      fc.constant('').map(() => `Bearer ${known().secret}`),
      fc.constant(`Bearer ${TEST_WECHAT.API_KEY}`),
      fc.constant(`bearer  ${TEST_WECHAT.API_KEY}`)
    ), { nil: undefined }),
    headers: extraHeaders,
    body: jsonish
  }).map(({ target: { method, path }, ...rest }) => ({ method, path, ...rest }))
}

async function fire (app: TestApp, dispatcher: ReturnType<typeof fuzzAgent>, input: { method: string, path: string, query: string, contentType: string | undefined, authorization: string | undefined, headers: Record<string, string>, body: string | Uint8Array | undefined }): Promise<FuzzResponse | null> {
  const headers: Record<string, string> = { ...input.headers }
  if (input.contentType !== undefined) headers['content-type'] = input.contentType
  if (input.authorization !== undefined) headers.authorization = input.authorization
  try {
    return await send(dispatcher, app.url, { method: input.method, path: `${input.path}?${input.query}`, headers, body: input.body })
  } catch (error) {
    // A body far over Fastify's bodyLimit can be answered (413) and the connection closed before it was all sent.
    const size = input.body === undefined ? 0 : typeof input.body === 'string' ? Buffer.byteLength(input.body) : input.body.length
    if (size > 60_000) return null
    throw error
  }
}

function serverErrors (app: TestApp): string[] {
  return app.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)
}

async function fuzzHttp (t: Test, app: TestApp, numRuns: number): Promise<Map<number, number>> {
  const dispatcher = fuzzAgent()
  t.after(() => dispatcher.close())
  const login = await createLogin(app)
  const known = () => ({ scene: login.scene, secret: login.secret })
  const statuses = new Map<number, number>()
  await fc.assert(fc.asyncProperty(httpCase(known), async (input) => {
    const response = await fire(app, dispatcher, input)
    if (response === null) return
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    if (response.status >= 500) throw new Error(`HTTP ${response.status} for ${input.method} ${input.path}: ${response.body.slice(0, 200)}`)
  }), { numRuns })
  return statuses
}

t.test('the JSON routes and the page: random methods, paths, queries, headers and bodies never get a 5xx', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: NO_LIMITS })
  const statuses = await fuzzHttp(t, app, HTTP_RUNS)
  t.pass(`${HTTP_RUNS} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok((statuses.get(201) ?? 0) > 0, 'some logins were created')
  t.ok((statuses.get(401) ?? 0) + (statuses.get(400) ?? 0) > 0, 'some were refused')
  t.same(serverErrors(app), [], 'no error-level log line')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.equal((await fetch(`${app.url}/healthz`)).status, 200, 'the app is still up')
})

t.test('the same with the default rate limits on', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const statuses = await fuzzHttp(t, app, LIMITED_RUNS)
  t.pass(`${LIMITED_RUNS} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.same(serverErrors(app), [])
  t.equal((await fetch(`${app.url}/healthz`)).status, 200)
})

/** A WebSocket upgrade request with the given headers: the status, or 101 when the server upgraded. */
function handshake (app: TestApp, path: string, headers: Record<string, string>): Promise<number | null> {
  const { port } = new URL(app.url)
  return new Promise((resolve, reject) => {
    let req: ReturnType<typeof httpRequest>
    try {
      req = httpRequest({ host: '127.0.0.1', port: Number(port), path, method: 'GET', headers, agent: false })
    } catch {
      resolve(null) // node refused the header we generated: nothing was sent
      return
    }
    req.setTimeout(10_000, () => req.destroy(new Error('handshake timed out')))
    req.on('upgrade', (_response, socket) => { socket.destroy(); resolve(101) })
    req.on('response', (response) => { response.resume(); resolve(response.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
}

t.test('WebSocket handshakes with random headers never get a 5xx', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: NO_LIMITS })
  const key = fc.oneof(fc.constant('dGhlIHNhbXBsZSBub25jZQ=='), headerValue)
  const handshakeCase = fc.record({
    path: fc.constantFrom('/api/login/ws', '/api/login/ws', '/api/login/ws?scene=x', '/api/login/ws/', '/api/login/qr', '/wechat/webhook'),
    upgrade: fc.constantFrom('websocket', 'WebSocket', 'h2c', '', 'websocket, foo'),
    connection: fc.constantFrom('Upgrade', 'upgrade', 'keep-alive, Upgrade', 'close'),
    version: fc.oneof(fc.constantFrom('13', '8', '0', '', '13, 8'), headerValue),
    key,
    origin: fc.option(fc.oneof(fc.constantFrom(app.url, 'http://localhost:3000', 'null', 'https://evil.example', 'file://'), headerValue), { nil: undefined }),
    protocol: fc.option(headerValue, { nil: undefined }),
    extensions: fc.option(fc.constantFrom('permessage-deflate', 'permessage-deflate; client_max_window_bits', 'x-garbage; a=1'), { nil: undefined }),
    headers: extraHeaders
  })
  const statuses = new Map<number, number>()
  await fc.assert(fc.asyncProperty(handshakeCase, async (input) => {
    const headers: Record<string, string> = {
      ...input.headers,
      upgrade: input.upgrade,
      connection: input.connection,
      'sec-websocket-version': input.version,
      'sec-websocket-key': input.key
    }
    if (input.origin !== undefined) headers.origin = input.origin
    if (input.protocol !== undefined) headers['sec-websocket-protocol'] = input.protocol
    if (input.extensions !== undefined) headers['sec-websocket-extensions'] = input.extensions
    const status = await handshake(app, input.path, headers)
    if (status === null) return
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
    if (status >= 500) throw new Error(`HTTP ${status} for a handshake to ${input.path}`)
  }), { numRuns: HANDSHAKE_RUNS })
  t.pass(`${HANDSHAKE_RUNS} handshakes; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.same(serverErrors(app), [])
  t.equal((await fetch(`${app.url}/healthz`)).status, 200)
})
