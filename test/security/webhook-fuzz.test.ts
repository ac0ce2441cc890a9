import fc from 'fast-check'
import t from 'tap'
import { createMessageCrypto } from '../../src/wechat/crypto.js'
import { wechatSignature } from '../../src/wechat/signature.js'
import { queuedScanJobs, scanXml, TEST_ENCODING_AES_KEY } from '../fixtures/webhook.js'
import { build, startEmulator, TEST_WECHAT, type TestApp } from '../helper.js'
import {
  extraHeaders, fuzzAgent, wellFormed, hostileText, mutated, nastyXml, queryPairs, randomXml, send, serializeQuery, type FuzzResponse
} from './arbitraries.js'

// Tuned for a 2-core box: the whole file stays well under tap's 60 s.
const UNSIGNED_RUNS = 2500
const SIGNED_RUNS = 2500

const SCENE = 'F'.repeat(32)
const QUERY_KEYS = ['signature', 'timestamp', 'nonce', 'echostr', 'openid', 'encrypt_type', 'msg_signature'] as const
const CONTENT_TYPES = [
  'text/xml', 'application/xml', 'text/xml; charset=utf-8', 'TEXT/XML', 'text/xml;charset=gbk', 'application/json', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'xml', 'text/xml;', ' text/xml', 'application/xml+evil', ''
]
const crypto = createMessageCrypto({ token: TEST_WECHAT.WECHAT_TOKEN, encodingAesKey: TEST_ENCODING_AES_KEY, appId: TEST_WECHAT.WECHAT_APP_ID })

const now = () => String(Math.floor(Date.now() / 1000))

/** A scan push signed and encrypted as WeChat would, to be mutated. */
function encryptedScan (mode: 'safe' | 'compatible'): { query: Record<string, string>, body: string } {
  const timestamp = now()
  const nonce = '1234567'
  const inner = scanXml(SCENE, 'oFuzzUser')
  const { encrypt, msgSignature } = crypto.encrypt(inner, { timestamp, nonce })
  const body = mode === 'safe'
    ? `<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`
    : inner.replace('</xml>', `<Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`)
  return { query: { signature: wechatSignature([TEST_WECHAT.WECHAT_TOKEN, timestamp, nonce]), timestamp, nonce, encrypt_type: 'aes', msg_signature: msgSignature }, body }
}

const bodies: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  fc.constant(undefined),
  hostileText,
  fc.uint8Array({ maxLength: 300 }),
  randomXml,
  randomXml.map((inner) => `<xml>${inner}</xml>`),
  nastyXml,
  mutated(scanXml(SCENE)),
  mutated(encryptedScan('safe').body),
  mutated(encryptedScan('compatible').body)
)

/** Mostly the webhook's own routes, sometimes another method or a near-miss path. */
const target = fc.oneof(
  { arbitrary: fc.constant({ method: 'POST', path: '/wechat/webhook' }), weight: 6 },
  { arbitrary: fc.constant({ method: 'GET', path: '/wechat/webhook' }), weight: 2 },
  {
    arbitrary: fc.record({
      method: fc.constantFrom('POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
      path: fc.constantFrom('/wechat/webhook', '/wechat/webhook/', '/wechat/Webhook', '/wechat//webhook', '/wechat/webhook%00')
    }),
    weight: 1
  }
)

/** Everything except a valid signature: none, garbage, another token's, a replayed (stale) one, one of another request. */
const unsignedQuery: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(queryPairs(QUERY_KEYS), fc.boolean()).map(([pairs, encode]) => serializeQuery(pairs, encode)),
  fc.tuple(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 40, maxLength: 40 }), hostileText, queryPairs(QUERY_KEYS)).map(([signature, nonce, pairs]) =>
    serializeQuery([['signature', signature], ['timestamp', now()], ['nonce', nonce], ...pairs], true)),
  fc.tuple(hostileText, fc.constantFrom('wrongtoken', '', TEST_WECHAT.WECHAT_TOKEN.toUpperCase(), `${TEST_WECHAT.WECHAT_TOKEN} `), queryPairs(QUERY_KEYS)).map(([nonce, token, pairs]) => {
    const timestamp = now()
    return serializeQuery([['signature', wechatSignature([token, timestamp, wellFormed(nonce)])], ['timestamp', timestamp], ['nonce', nonce], ...pairs], true)
  }),
  // Captured once, replayed later: a genuine signature over an old timestamp.
  fc.tuple(fc.integer({ min: 301, max: 10 * 365 * 86_400 }), fc.boolean()).map(([age, future]) => {
    const timestamp = String(Math.floor(Date.now() / 1000) + (future ? age : -age))
    return serializeQuery([['signature', wechatSignature([TEST_WECHAT.WECHAT_TOKEN, timestamp, '42'])], ['timestamp', timestamp], ['nonce', '42']], true)
  }),
  // A genuine signature moved onto another request's nonce, or doubled parameters.
  fc.constantFrom('a', 'b').map((variant) => {
    const timestamp = now()
    const signature = wechatSignature([TEST_WECHAT.WECHAT_TOKEN, timestamp, '1'])
    return variant === 'a'
      ? `signature=${signature}&timestamp=${timestamp}&nonce=2`
      : `signature=${signature}&signature=${signature}&timestamp=${timestamp}&nonce=1`
  })
)

/** A valid signature, with anything else around it: the parser, the decryption and the job mapping are fuzzed. */
const signedQuery: fc.Arbitrary<string> = fc.tuple(queryPairs(['echostr', 'openid', 'encrypt_type', 'msg_signature']), fc.boolean(), fc.boolean())
  .map(([pairs, encrypted, keepMsgSignature]) => {
    const timestamp = now()
    const nonce = String(Math.floor(Math.random() * 1e9))
    const base: Array<[string, string]> = [['signature', wechatSignature([TEST_WECHAT.WECHAT_TOKEN, timestamp, nonce])], ['timestamp', timestamp], ['nonce', nonce]]
    if (encrypted) base.push(['encrypt_type', 'aes'])
    if (keepMsgSignature) base.push(['msg_signature', wechatSignature([TEST_WECHAT.WECHAT_TOKEN, timestamp, nonce, 'x'])])
    return serializeQuery([...base, ...pairs.filter(([key]) => !['signature', 'timestamp', 'nonce'].includes(key))], true)
  })

/** A mutated but correctly signed encrypted push: both signatures valid for whatever Encrypt ends up in the body. */
const resignedEncrypted = fc.tuple(fc.constantFrom('safe', 'compatible' as const), fc.nat(), fc.nat({ max: 255 })).map(([mode, at, byte]) => {
  const timestamp = now()
  const nonce = '7654321'
  const { encrypt } = crypto.encrypt(scanXml(SCENE, 'oFuzzUser'), { timestamp, nonce })
  const raw = Buffer.from(encrypt, 'base64')
  raw[at % raw.length] = byte
  const flipped = raw.toString('base64')
  const body = mode === 'safe'
    ? `<xml><ToUserName>gh_test</ToUserName><Encrypt><![CDATA[${flipped}]]></Encrypt></xml>`
    : scanXml(SCENE, 'oPlain').replace('</xml>', `<Encrypt><![CDATA[${flipped}]]></Encrypt></xml>`)
  return {
    query: new URLSearchParams({
      signature: wechatSignature([TEST_WECHAT.WECHAT_TOKEN, timestamp, nonce]), timestamp, nonce, encrypt_type: 'aes', msg_signature: wechatSignature([TEST_WECHAT.WECHAT_TOKEN, timestamp, nonce, flipped])
    }).toString(),
    body
  }
})

function requestArbitrary (query: fc.Arbitrary<string>) {
  return fc.record({
    target,
    query,
    contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
    headers: extraHeaders,
    body: bodies
  }).map(({ target: { method, path }, ...rest }) => ({ method, path, ...rest }))
}

function byteLength (body: string | Uint8Array | undefined): number {
  return body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length
}

/** Sends one case; a connection the server dropped is acceptable only after it refused an oversized body. */
async function fire (app: TestApp, dispatcher: ReturnType<typeof fuzzAgent>, input: { method: string, path: string, query: string, contentType: string | undefined, headers: Record<string, string>, body: string | Uint8Array | undefined }): Promise<FuzzResponse | null> {
  const headers = { ...input.headers, ...(input.contentType === undefined ? {} : { 'content-type': input.contentType }) }
  try {
    return await send(dispatcher, app.url, { method: input.method, path: `${input.path}?${input.query}`, headers, body: input.body })
  } catch (error) {
    if (byteLength(input.body) > app.config.WEBHOOK_BODY_LIMIT) return null
    throw error
  }
}

function serverErrors (app: TestApp): string[] {
  return app.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)
}

t.test('unsigned, mis-signed and replayed requests: never a 5xx, always refused, never a job', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { RUN_WORKER: '0', WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY } })
  const dispatcher = fuzzAgent()
  t.after(() => dispatcher.close())
  await fc.assert(fc.asyncProperty(requestArbitrary(unsignedQuery), async (input) => {
    const response = await fire(app, dispatcher, input)
    if (response === null) return
    if (response.status >= 500) throw new Error(`HTTP ${response.status}: ${response.body.slice(0, 200)}`)
    const routed = input.path === '/wechat/webhook'
    if (routed && ['GET', 'POST', 'HEAD'].includes(input.method) && response.status !== 401) {
      throw new Error(`an unsigned ${input.method} got ${response.status}, not 401`)
    }
  }), { numRuns: UNSIGNED_RUNS })
  t.pass(`${UNSIGNED_RUNS} requests without a valid signature`)
  t.equal((await queuedScanJobs(t, app)).length, 0, 'the queue stayed empty')
  t.same(serverErrors(app), [], 'no error-level log line')
  t.equal((await fetch(`${app.url}/healthz`)).status, 200, 'the app is still up')
})

t.test('validly signed requests with random queries, headers and bodies: never a 5xx', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { RUN_WORKER: '0', WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY } })
  const dispatcher = fuzzAgent()
  t.after(() => dispatcher.close())
  const statuses = new Map<number, number>()
  const signedCase = fc.oneof(
    { arbitrary: requestArbitrary(signedQuery), weight: 4 },
    { arbitrary: fc.record({ resigned: resignedEncrypted, headers: extraHeaders }).map(({ resigned, headers }) => ({ method: 'POST', path: '/wechat/webhook', query: resigned.query, contentType: 'text/xml', headers, body: resigned.body as string | Uint8Array | undefined })), weight: 1 }
  )
  await fc.assert(fc.asyncProperty(signedCase, async (input) => {
    const response = await fire(app, dispatcher, input)
    if (response === null) return
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    if (response.status >= 500) throw new Error(`HTTP ${response.status}: ${response.body.slice(0, 200)}`)
    if (response.status === 200 && input.method === 'POST' && response.body !== 'success') throw new Error(`a 200 that is not "success": ${response.body.slice(0, 100)}`)
  }), { numRuns: SIGNED_RUNS })
  t.pass(`${SIGNED_RUNS} signed requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, 'the cases reached both refusals and acceptances')
  const jobs = await queuedScanJobs(t, app)
  t.ok(jobs.every((job) => [job.scene, job.openid, job.event, job.createTime].every((value) => typeof value === 'string') && typeof job.receivedAt === 'number' && /^[A-Za-z0-9_-]{32}$/.test(job.scene)), 'only well-formed jobs (WeChat\'s fields as strings, our receive time), for scenes shaped like ours')
  t.notOk(jobs.some((job) => job.openid === 'oPlain'), 'a compatible-mode push never yields the plaintext copy\'s fields')
  t.same(serverErrors(app), [], 'no error-level log line')
  t.equal((await fetch(`${app.url}/healthz`)).status, 200, 'the app is still up')
})
