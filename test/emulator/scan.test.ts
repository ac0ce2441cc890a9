import Fastify, { type FastifyInstance } from 'fastify'
import { XMLParser } from 'fast-xml-parser'
import t, { type Test } from 'tap'
import { EmulatorError } from '../../src/emulator/errors.js'
import { loadConfig } from '../../src/config.js'
import { toScanJob } from '../../src/jobs/definitions.js'
import { toWeChatMessage } from '../../src/wechat/events.js'
import { verifyRequestSignature } from '../../src/wechat/signature.js'
import emulatorRoutes from '../../routes/emulator/index.js'
import { startEmulatorServer, type EmulatorServer, type EmulatorServerOptions } from '../fixtures/emulator-server.js'
import configPlugin from '../../plugins/app/config.js'
import endpointsPlugin from '../../plugins/app/endpoints.js'

const APP = { appId: 'wxemulatorscan0001', appSecret: 'emulator-secret-scan-0123', token: 'emuScanToken7' }

interface Received {
  rawQuery: string
  query: Record<string, string>
  body: string
  contentType: string | undefined
  signatureValid: boolean
}

/** A stand-in for our webhook that checks the signature with the service's own code. */
async function startReceiver (t: Test, answer: { status: number, body: string } = { status: 200, body: 'success' }) {
  const received: Received[] = []
  const receiver = Fastify()
  receiver.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_request, body, done) => done(null, body))
  receiver.post('/wechat/webhook', async (request, reply) => {
    const query = request.query as Record<string, string>
    received.push({
      rawQuery: request.url.slice(request.url.indexOf('?') + 1),
      query,
      body: request.body as string,
      contentType: request.headers['content-type'],
      signatureValid: verifyRequestSignature(APP.token, query)
    })
    return reply.code(answer.status).type('text/plain').send(answer.body)
  })
  await receiver.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => receiver.close())
  const { port } = receiver.server.address() as { port: number }
  return { received, webhookUrl: `http://127.0.0.1:${port}/wechat/webhook` }
}

async function start (t: Test, webhookUrl: string, options: Partial<EmulatorServerOptions> = {}): Promise<EmulatorServer> {
  const server = await startEmulatorServer({ ...APP, webhookUrl: () => webhookUrl, ...options })
  t.after(() => server.close())
  return server
}

async function apiToken (server: EmulatorServer): Promise<string> {
  const response = await fetch(`${server.url}/cgi-bin/stable_token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credential', appid: APP.appId, secret: APP.appSecret })
  })
  return (await response.json() as { access_token: string }).access_token
}

async function createTicket (server: EmulatorServer, scene: string, expireSeconds = 300): Promise<{ ticket: string, url: string }> {
  const response = await fetch(`${server.url}/cgi-bin/qrcode/create?access_token=${encodeURIComponent(await apiToken(server))}`, {
    method: 'POST',
    body: JSON.stringify({ expire_seconds: expireSeconds, action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: scene } } })
  })
  return await response.json() as { ticket: string, url: string }
}

const xml = new XMLParser({ processEntities: false, parseTagValue: false, ignoreDeclaration: true })
const fieldsOf = (body: string) => toWeChatMessage(xml.parse(body))

async function submitScan (pageUrl: string, ticket: string, openid: string) {
  const response = await fetch(pageUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ticket, openid }).toString()
  })
  return { status: response.status, html: await response.text() }
}

t.test('the phone page: a form to pick a test user and scan, nothing external', async (t) => {
  const { webhookUrl } = await startReceiver(t)
  const server = await start(t, webhookUrl)
  const { url } = await createTicket(server, 'phone-page')

  const response = await fetch(url)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/html; charset=utf-8/)
  t.match(response.headers.get('content-security-policy'), /default-src 'none'/)
  const html = await response.text()
  t.match(html, /<meta name="viewport"/, 'mobile friendly')
  t.match(html, /<form method="post" action="scan">/, 'a plain form POST')
  t.notMatch(html, /<script/i, 'no script')
  t.notMatch(html, /(src|href)="(https?:)?\/\//i, 'no external resources')
  for (const user of server.emulator.users) {
    t.ok(html.includes(`value="${user.openid}"`), `${user.nickname} can be picked`)
  }
  t.match(html, /not following/)
  t.match(html, /phone-page/, 'shows the scene')

  const unknown = await fetch(`${server.url}/scan?ticket=${encodeURIComponent('gQunknown==')}`)
  t.equal(unknown.status, 404)
  t.match(await unknown.text(), /Unknown QR code/)
})

t.test('POST /scan pushes a signed subscribe, then SCAN for the same user', async (t) => {
  const { received, webhookUrl } = await startReceiver(t)
  const server = await start(t, webhookUrl)
  const scene = 'scene-for-first-follow'
  const { ticket, url } = await createTicket(server, scene)
  const newcomer = server.emulator.users.find((user) => !user.following && user.unionid !== null)!

  const first = await submitScan(url.split('?')[0]!, ticket, newcomer.openid)
  t.equal(first.status, 200)
  t.match(first.html, /Pushed to the service: success/)
  t.equal(received.length, 1)
  const push = received[0]!
  t.ok(push.signatureValid, 'signature = sha1(sorted token, timestamp, nonce)')
  t.equal(push.query.openid, newcomer.openid, 'openid in the query, like WeChat')
  t.match(push.rawQuery, /^signature=[0-9a-f]{40}&timestamp=\d{10}&nonce=\d+&openid=/)
  t.equal(push.contentType, 'text/xml')
  t.match(push.body, /<CreateTime>\d{10}<\/CreateTime>/, 'CreateTime bare seconds')
  t.match(push.body, /<MsgType><!\[CDATA\[event\]\]><\/MsgType>/, 'strings in CDATA')
  const fields = fieldsOf(push.body)
  t.match(fields, {
    ToUserName: server.emulator.originalId,
    FromUserName: newcomer.openid,
    MsgType: 'event',
    Event: 'subscribe',
    EventKey: `qrscene_${scene}`,
    Ticket: ticket
  })
  t.match(server.emulator.originalId, /^gh_[0-9a-f]{12}$/)
  t.same(toScanJob(fields!), { scene, openid: newcomer.openid, event: 'subscribe', createTime: fields!.CreateTime }, 'the service reads the scene')

  t.equal(server.emulator.users.find((user) => user.openid === newcomer.openid)?.following, true, 'the newcomer now follows')
  const info = await fetch(`${server.url}/cgi-bin/user/info?access_token=${encodeURIComponent(await apiToken(server))}&openid=${newcomer.openid}`)
  t.match(await info.json(), { subscribe: 1, subscribe_scene: 'ADD_SCENE_QR_CODE', qr_scene_str: scene, unionid: newcomer.unionid })

  const second = await server.emulator.scan(ticket, newcomer.openid)
  t.equal(second.status, 200)
  t.equal(second.body, 'success')
  const secondFields = fieldsOf(received[1]!.body)
  t.match(secondFields, { Event: 'SCAN', EventKey: scene, FromUserName: newcomer.openid, Ticket: ticket })
  t.ok(Number(secondFields!.CreateTime) > Number(fields!.CreateTime), 'two scans never share a CreateTime (the dedup key)')
  t.same(second.push.fields, secondFields, 'scan returns what it pushed')
  t.equal(second.push.body, received[1]!.body)
  t.equal(second.push.query, received[1]!.rawQuery)
  t.equal(server.emulator.counters.pushes, 2)
})

t.test('replay re-sends a push byte for byte, like WeChat\'s retries', async (t) => {
  const { received, webhookUrl } = await startReceiver(t)
  const server = await start(t, webhookUrl)
  const { ticket } = await createTicket(server, 'retried')
  const follower = server.emulator.users.find((user) => user.following)!
  const result = await server.emulator.scan(ticket, follower.openid)
  await server.emulator.replay(result)
  await server.emulator.replay(result.push)
  t.equal(received.length, 3)
  t.same(new Set(received.map((push) => push.body)).size, 1, 'same body three times')
  t.same(new Set(received.map((push) => push.rawQuery)).size, 1, 'same query three times')
  t.ok(received.every((push) => push.signatureValid))
})

t.test('pushEvent sends any event, signed', async (t) => {
  const { received, webhookUrl } = await startReceiver(t)
  const server = await start(t, webhookUrl)
  const follower = server.emulator.users.find((user) => user.following)!
  const result = await server.emulator.pushEvent({
    ToUserName: server.emulator.originalId,
    FromUserName: follower.openid,
    MsgType: 'event',
    Event: 'unsubscribe',
    EventKey: 'tricky ]]> text'
  })
  t.equal(result.body, 'success')
  t.ok(received[0]!.signatureValid)
  t.match(fieldsOf(received[0]!.body), { Event: 'unsubscribe', FromUserName: follower.openid, EventKey: 'tricky ]]> text' }, '"]]>" survives CDATA')
  t.match(fieldsOf(received[0]!.body)?.CreateTime, /^\d+$/, 'CreateTime added')

  await server.emulator.pushEvent({ ToUserName: 'gh_x', FromUserName: follower.openid, CreateTime: 1718000456, MsgType: 'text', Content: '你好', MsgId: 6054768590064713728n })
  t.match(received[1]!.body, /<MsgId>6054768590064713728<\/MsgId>/, 'a 64-bit MsgId is written exactly')
  t.match(fieldsOf(received[1]!.body), { Content: '你好', CreateTime: '1718000456' })
})

t.test('a scan that cannot happen fails clearly', async (t) => {
  let now = Date.UTC(2024, 0, 1)
  const { received, webhookUrl } = await startReceiver(t)
  const server = await start(t, webhookUrl, { now: () => now })
  const follower = server.emulator.users.find((user) => user.following)!
  const { ticket, url } = await createTicket(server, 'short-lived', 60)

  await t.rejects(server.emulator.scan('gQnot-a-ticket==', follower.openid), { code: 'unknown_ticket' })
  await t.rejects(server.emulator.scan(ticket, 'oNobodyKnowsThisOpenid000001'), { code: 'unknown_user' })
  const page = await submitScan(url.split('?')[0]!, ticket, 'oNobodyKnowsThisOpenid000001')
  t.equal(page.status, 400)
  t.match(page.html, /Scan failed/)

  now += 60_000
  await t.rejects(server.emulator.scan(ticket, follower.openid), { code: 'expired_ticket' })
  const expiredPage = await fetch(url)
  t.equal(expiredPage.status, 410)
  t.match(await expiredPage.text(), /expired/)
  const expiredScan = await submitScan(url.split('?')[0]!, ticket, follower.openid)
  t.equal(expiredScan.status, 410)
  t.equal(received.length, 0, 'nothing was pushed')
})

t.test('webhook unreachable or failing', async (t) => {
  const failing = await startReceiver(t, { status: 503, body: '{"error":"unavailable"}' })
  const server = await start(t, failing.webhookUrl)
  const follower = server.emulator.users.find((user) => user.following)!
  const { ticket, url } = await createTicket(server, 'failing')
  const result = await server.emulator.scan(ticket, follower.openid)
  t.equal(result.status, 503)
  const page = await submitScan(url.split('?')[0]!, ticket, follower.openid)
  t.match(page.html, /The service answered HTTP 503/)

  // A port nobody listens on: the receiver above, closed.
  const gone = Fastify()
  await gone.listen({ port: 0, host: '127.0.0.1' })
  const { port } = gone.server.address() as { port: number }
  await gone.close()
  const unreachable = await start(t, `http://127.0.0.1:${port}/wechat/webhook`)
  const code = await createTicket(unreachable, 'unreachable')
  const error = await unreachable.emulator.scan(code.ticket, follower.openid).catch((caught: unknown) => caught)
  t.ok(error instanceof EmulatorError)
  t.match(error, { code: 'push_failed', message: /could not push to the webhook http:\/\/127\.0\.0\.1:\d+\/wechat\/webhook: ECONNREFUSED/ })
  const failedPage = await submitScan(`${unreachable.url}/scan`, code.ticket, follower.openid)
  t.equal(failedPage.status, 502)
})

t.test('mounted by the app: built from its config and endpoints, pushing to its own webhook', async (t) => {
  const config = loadConfig({
    WECHAT_APP_ID: APP.appId,
    WECHAT_APP_SECRET: APP.appSecret,
    WECHAT_TOKEN: APP.token,
    API_KEY: 'emulator-test-api-key-0123456789',
    PUBLIC_URL: 'http://192.168.1.5:3000/',
    WECHAT_EMULATOR: '1'
  })
  const received: string[] = []
  const app: FastifyInstance = Fastify()
  await app.register(configPlugin, { config })
  await app.register(endpointsPlugin)
  app.register(async (wechat) => {
    wechat.addContentTypeParser('text/xml', { parseAs: 'string' }, (_request, body, done) => done(null, body))
    wechat.post('/webhook', async (request) => {
      if (!verifyRequestSignature(config.WECHAT_TOKEN, request.query as Record<string, string>)) throw new Error('bad signature')
      received.push(request.body as string)
      return 'success'
    })
  }, { prefix: '/wechat' })
  await app.register(emulatorRoutes, { prefix: '/_emulator' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const { port } = app.server.address() as { port: number }
  const local = `http://127.0.0.1:${port}/_emulator`

  const token = await fetch(`${local}/cgi-bin/stable_token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credential', appid: APP.appId, secret: APP.appSecret })
  }).then(async (response) => (await response.json() as { access_token: string }).access_token)
  const created = await fetch(`${local}/cgi-bin/qrcode/create?access_token=${encodeURIComponent(token)}`, {
    method: 'POST',
    body: JSON.stringify({ expire_seconds: 120, action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'in-app' } } })
  }).then(async (response) => await response.json() as { ticket: string, url: string })
  t.equal(created.url, `http://192.168.1.5:3000/_emulator/scan?ticket=${encodeURIComponent(created.ticket)}`, 'the QR points at PUBLIC_URL')

  const users = await fetch(`${local}/_control/users`).then(async (response) => await response.json() as { users: Array<{ openid: string }> })
  const page = await submitScan(`${local}/scan`, created.ticket, users.users[0]!.openid)
  t.match(page.html, /Pushed to the service: success/)
  t.equal(received.length, 1)
  t.match(received[0], /<EventKey><!\[CDATA\[in-app\]\]><\/EventKey>|<EventKey><!\[CDATA\[qrscene_in-app\]\]><\/EventKey>/)
})
