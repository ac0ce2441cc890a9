import { setImmediate as nextTurn } from 'node:timers/promises'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { registerXmlParser } from '../../routes/wechat/xml-body.js'
import { queuedScanJobs, rawConnection, readResponse, scanXml, signedQuery, writeChunk } from '../fixtures/webhook.js'
import { build, type TestApp } from '../helper.js'

const SCENE = 'S'.repeat(32)

async function post (app: TestApp, body: string, contentType = 'text/xml', query = signedQuery()) {
  const response = await fetch(`${app.url}/wechat/webhook?${query}`, { method: 'POST', headers: { 'content-type': contentType }, body })
  return { status: response.status, body: await response.text() }
}

/** The app without a worker: queued jobs stay in the queue for the test to read. */
async function idleApp (t: Test, env: Record<string, string> = {}): Promise<TestApp> {
  return build(t, { env: { RUN_WORKER: '0', ...env } })
}

/**
 * Writes `bytes` in pieces of `size` bytes, each its own write with a turn of the event loop in
 * between, so the server reads them as separate chunks (same process: its socket is read in that turn).
 */
async function dribble (socket: import('node:net').Socket, bytes: Buffer, size: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += size) {
    await writeChunk(socket, bytes.subarray(at, at + size))
    await nextTurn()
  }
}

function requestHead (app: TestApp, query: string, headers: Record<string, string>): string {
  const lines = [`POST /wechat/webhook?${query} HTTP/1.1`, `Host: ${new URL(app.url).host}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)]
  return `${lines.join('\r\n')}\r\n\r\n`
}

function chunked (data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')])
}

t.test('a Chinese value split across TCP chunks arrives intact (Content-Length)', async (t) => {
  const app = await idleApp(t)
  const openid = 'o中文用户Ab测试🌏'
  const body = Buffer.from(scanXml(SCENE, openid), 'utf8')
  // Every byte its own write: each multibyte character of the openid is split between reads.
  const socket = await rawConnection(t, app)
  await writeChunk(socket, requestHead(app, signedQuery(), { 'Content-Type': 'text/xml', 'Content-Length': String(body.length) }))
  const response = readResponse(socket)
  await dribble(socket, body, 1)
  const answer = await response
  t.equal(answer.status, 200)
  t.equal(answer.body, 'success')
  const jobs = await queuedScanJobs(t, app)
  t.same(jobs.map((job) => job.openid), [openid], 'the openid is exactly what was sent, no U+FFFD')
})

t.test('a Chinese value split across HTTP chunks arrives intact (Transfer-Encoding: chunked)', async (t) => {
  const app = await idleApp(t)
  const openid = '微信用户oX9'
  const body = Buffer.from(scanXml(SCENE, openid), 'utf8')
  const socket = await rawConnection(t, app)
  await writeChunk(socket, requestHead(app, signedQuery(), { 'Content-Type': 'text/xml; charset=utf-8', 'Transfer-Encoding': 'chunked' }))
  const response = readResponse(socket)
  // 2-byte HTTP chunks: every 3-byte character straddles two of them.
  for (let at = 0; at < body.length; at += 2) {
    await writeChunk(socket, chunked(body.subarray(at, at + 2)))
    await nextTurn()
  }
  await writeChunk(socket, '0\r\n\r\n')
  const answer = await response
  t.equal(answer.status, 200)
  t.same((await queuedScanJobs(t, app)).map((job) => job.openid), [openid])
})

t.test('the parser as registered in the webhook scope hands over whole characters (echo)', async (t) => {
  // The webhook answers only "success"; this scope echoes what the parser produced.
  const fastify = Fastify()
  await fastify.register(async (scope) => {
    await registerXmlParser(scope, 65536)
    scope.post('/echo', async (request) => request.body)
  })
  t.after(() => fastify.close())
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const echo = { url: `http://127.0.0.1:${port}` } as TestApp
  const content = '你好，世界！扫码登录成功 🌏 — ¥100'
  const body = Buffer.from(`<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content><MsgId>23456789012345678901</MsgId></xml>`, 'utf8')
  for (const size of [1, 2, 5]) {
    const socket = await rawConnection(t, echo)
    await writeChunk(socket, `POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: ${body.length}\r\n\r\n`)
    const response = readResponse(socket)
    await dribble(socket, body, size)
    const answer = await response
    t.equal(answer.status, 200, `${size}-byte writes`)
    t.same(JSON.parse(answer.body), { xml: { MsgType: 'text', Content: content, MsgId: '23456789012345678901' } }, `${size}-byte writes: Content intact, MsgId a string`)
  }
})

t.test('a body over the limit sent chunked, without Content-Length, is refused with 413 before it ends', async (t) => {
  const app = await idleApp(t)
  const limit = app.config.WEBHOOK_BODY_LIMIT
  t.equal(limit, 65536, 'the default limit is 64 KiB')
  const socket = await rawConnection(t, app)
  await writeChunk(socket, requestHead(app, signedQuery(), { 'Content-Type': 'text/xml', 'Transfer-Encoding': 'chunked' }))
  const response = readResponse(socket)
  let answered = false
  response.then(() => { answered = true }, () => {})
  const piece = Buffer.from(`<xml><Content><![CDATA[${'长'.repeat(330)}]]></Content>`, 'utf8')
  let sent = 0
  // Never the terminating chunk: a server that buffers the whole body before checking never answers.
  // eslint-disable-next-line no-unmodified-loop-condition -- set by the response's callback while we await
  while (!answered && sent < limit * 4) {
    await writeChunk(socket, chunked(piece))
    sent += piece.length
    await nextTurn()
  }
  const answer = await response
  t.equal(answer.status, 413)
  t.same(JSON.parse(answer.body), { error: 'body_too_large' })
  t.ok(sent > limit, 'the body really was over the limit when refused')
  t.ok(sent < limit * 4, 'answered while the body was still being sent')
  t.match(answer.head, /\r\nconnection: close/i, 'the connection ends with the refusal: the rest of the body is not read on')
  t.same(await queuedScanJobs(t, app), [])
  t.ok(app.logs.some((line) => line.includes('body_too_large')), 'the refusal is logged')
})

t.test('a declared Content-Length over the limit is refused before a byte of the body is read', async (t) => {
  const app = await idleApp(t)
  const socket = await rawConnection(t, app)
  const response = readResponse(socket)
  await writeChunk(socket, requestHead(app, signedQuery(), { 'Content-Type': 'text/xml', 'Content-Length': String(5 * 1024 * 1024) }))
  const answer = await response
  t.equal(answer.status, 413, 'answered with no body sent at all')
})

t.test('WEBHOOK_BODY_LIMIT is configurable', async (t) => {
  const app = await idleApp(t, { WEBHOOK_BODY_LIMIT: '2048' })
  const padding = `<Padding><![CDATA[${'x'.repeat(2000)}]]></Padding>`
  const over = scanXml(SCENE).replace('</xml>', `${padding}</xml>`)
  t.equal((await post(app, over)).status, 413, `${Buffer.byteLength(over)} bytes over a 2048-byte limit`)
  t.same(await post(app, scanXml(SCENE)), { status: 200, body: 'success' }, 'a normal push still passes')
})

t.test('only the XML content types WeChat sends are parsed; others are 415', async (t) => {
  const app = await idleApp(t)
  const xml = scanXml(SCENE)
  for (const type of ['text/xml', 'text/xml; charset=utf-8', 'application/xml', 'application/xml;charset=UTF-8']) {
    t.same(await post(app, xml, type), { status: 200, body: 'success' }, type)
  }
  for (const type of ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/rss+xml', 'application/xhtml+xml', 'image/svg+xml']) {
    t.equal((await post(app, xml, type)).status, 415, type)
  }
  t.equal((await queuedScanJobs(t, app)).length, 1, 'the XML pushes were deduplicated into one job; nothing else was queued')
})

t.test('regression: a DTD or an oversized body under a content type we do not parse is a 415, not a crash', async (t) => {
  // The guard's error had no listener when no parser read the stream: an uncaught exception.
  const app = await idleApp(t)
  const dtd = `<!DOCTYPE x [<!ENTITY a "b">]>${scanXml(SCENE)}`
  t.equal((await post(app, dtd, 'text/plain')).status, 415)
  t.equal((await post(app, 'x'.repeat(70_000), 'application/octet-stream')).status, 413, 'a declared size over the limit is refused first')
  const socket = await rawConnection(t, app)
  await writeChunk(socket, requestHead(app, signedQuery(), { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }))
  const response = readResponse(socket)
  await writeChunk(socket, chunked(Buffer.from(`<!DOCTYPE x>${'y'.repeat(70_000)}`)))
  await writeChunk(socket, '0\r\n\r\n')
  t.equal((await response).status, 415)
  t.same(await post(app, scanXml(SCENE)), { status: 200, body: 'success' }, 'still serving')
})

t.test('values stay the strings WeChat sent: no number coercion', async (t) => {
  const app = await idleApp(t)
  const numericScene = `0${'1234567890'.repeat(3)}1`
  const subscribe = '<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName>000123456789</FromUserName>' +
    '<CreateTime>0001718000000</CreateTime><MsgType>event</MsgType><Event>subscribe</Event>' +
    `<EventKey>qrscene_${numericScene}</EventKey><Ticket>1e5</Ticket></xml>`
  t.same(await post(app, subscribe), { status: 200, body: 'success' })
  const jobs = await queuedScanJobs(t, app)
  // What the service adds (the request's id, its time) aside: WeChat's fields as sent.
  t.same(jobs.map(({ reqId, receivedAt, ...fromWeChat }) => fromWeChat), [{ scene: numericScene, openid: '000123456789', event: 'subscribe', createTime: '0001718000000' }],
    'EventKey qrscene_0… keeps its leading zero, the numeric openid and CreateTime stay strings')
})

t.test('no DOCTYPE, no entity expansion', async (t) => {
  const app = await idleApp(t)
  const xxe = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${scanXml(SCENE).replace('oTestOpenId0000000000000001', '&xxe;')}`
  t.same(await post(app, xxe), { status: 400, body: JSON.stringify({ error: 'forbidden_markup' }) }, 'an external entity is refused')
  const billionLaughs = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><a>&lol2;</a></xml>'
  t.equal((await post(app, billionLaughs)).status, 400, 'an internal entity is refused')
  const lowercase = `<!doctype xml>${scanXml(SCENE)}`
  t.equal((await post(app, lowercase)).status, 400, 'whatever the case of DOCTYPE')

  const references = scanXml(SCENE).replace('oTestOpenId0000000000000001', 'o&lt;x&gt;&amp;&#65;&xxe;')
  t.same(await post(app, references), { status: 200, body: 'success' })
  t.same((await queuedScanJobs(t, app)).map((job) => job.openid), ['o&lt;x&gt;&amp;&#65;&xxe;'], 'entity references are left as written, never expanded')

  const quoted = '<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1718000000</CreateTime>' +
    '<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[<!DOCTYPE x [<!ENTITY a "b">]>]]></Content><MsgId>1</MsgId></xml>'
  t.same(await post(app, quoted), { status: 200, body: 'success' }, 'a text message quoting a DOCTYPE inside CDATA is a message like any other')
})

t.test('no prototype pollution through __proto__ or constructor tags', async (t) => {
  const app = await idleApp(t)
  const nested = scanXml(SCENE).replace('</xml>', '<__proto__><polluted>yes</polluted><isAdmin>1</isAdmin></__proto__></xml>')
  t.same(await post(app, nested), { status: 400, body: JSON.stringify({ error: 'not_a_wechat_message' }) }, 'a nested element is not a WeChat field')
  const flat = scanXml(SCENE, 'oProto').replace('</xml>', '<__proto__>polluted</__proto__><constructor><prototype>x</prototype></constructor></xml>')
  t.equal((await post(app, flat)).status, 400, 'constructor.prototype is nested too')
  const onlyProto = scanXml(SCENE, 'oProto').replace('</xml>', '<__proto__>polluted</__proto__><toString>2</toString><valueOf>3</valueOf></xml>')
  t.same(await post(app, onlyProto), { status: 200, body: 'success' })
  // fast-xml-parser itself throws on this one (it calls the object's own, now shadowed, hasOwnProperty): a 400, not a 500.
  const shadowing = scanXml(SCENE, 'oShadow').replace('</xml>', '<__proto__>p</__proto__><hasOwnProperty>1</hasOwnProperty><toString>2</toString></xml>')
  t.same(await post(app, shadowing), { status: 400, body: JSON.stringify({ error: 'malformed_xml' }) })
  const probe: Record<string, unknown> = {}
  t.equal(probe.polluted, undefined, 'Object.prototype untouched')
  t.equal(probe.isAdmin, undefined)
  t.equal(typeof probe.hasOwnProperty, 'function')
  const jobs = await queuedScanJobs(t, app)
  t.equal(jobs.length, 1)
  t.same(Object.keys(jobs[0] ?? {}).sort(), ['createTime', 'event', 'openid', 'receivedAt', 'reqId', 'scene'],
    'the job holds only WeChat\'s four fields, the request\'s id and its time')
  t.match(jobs[0], { scene: SCENE, openid: 'oProto', event: 'SCAN' })
})

t.test('after a refused body the next push is served normally', async (t) => {
  const app = await idleApp(t)
  const big = scanXml(SCENE).replace('</xml>', `<Padding>${'x'.repeat(70_000)}</Padding></xml>`)
  t.equal((await post(app, big)).status, 413)
  t.same(await post(app, scanXml(SCENE)), { status: 200, body: 'success' })
  t.equal((await queuedScanJobs(t, app)).length, 1)
})

t.test('a body that is not well-formed XML is malformed_xml, as the README says', async (t) => {
  const app = await idleApp(t)
  const bodies = {
    'an unclosed tag': '<xml><ToUserName><![CDATA[gh_test]]></ToUserName>',
    'not XML at all': 'hello',
    'mismatched tags': '<xml><a></b></xml>'
  }
  for (const [what, body] of Object.entries(bodies)) {
    t.same(await post(app, body), { status: 400, body: JSON.stringify({ error: 'malformed_xml' }) }, what)
  }
  t.same(await queuedScanJobs(t, app), [], 'nothing queued')
})
