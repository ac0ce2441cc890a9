import { QueueEvents } from 'bullmq'
import t, { type Test } from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { WECHAT_EVENTS_QUEUE } from '../../src/jobs/definitions.js'
import { encryptedPush, queuedScanJobs, scanXml, signedQuery, startModeEmulator, TEST_ENCODING_AES_KEY } from '../fixtures/webhook.js'
import { DRIVERS, build, createLogin, exchange, startEmulator, type TestApp } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

const SCENE = 'R'.repeat(32)

async function post (app: TestApp, query: string, body: string) {
  const response = await fetch(`${app.url}/wechat/webhook?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body })
  return { status: response.status, body: await response.text() }
}

const seconds = (offset: number) => String(Math.floor(Date.now() / 1000) + offset)
const STALE = JSON.stringify({ error: 'stale_timestamp' })

/** Resolves with the next `count` job completions of the app's queue. */
async function completions (t: Test, app: TestApp, count: number): Promise<() => Promise<void>> {
  const events = new QueueEvents(WECHAT_EVENTS_QUEUE, { prefix: redisKeyspace(app.config.REDIS_PREFIX).bullPrefix, connection: { url: redisUrl } })
  t.after(() => events.close())
  await events.waitUntilReady()
  let seen = 0
  const done = new Promise<void>((resolve, reject) => {
    events.on('completed', () => { if (++seen === count) resolve() })
    events.on('failed', ({ failedReason }) => reject(new Error(`a job failed: ${failedReason}`)))
  })
  return () => done
}

t.test('a signed request whose timestamp is outside the window is refused (401 stale_timestamp)', async (t) => {
  const app = await build(t, { env: { RUN_WORKER: '0' } })
  t.equal(app.config.WECHAT_TIMESTAMP_TOLERANCE_SECONDS, 300, 'five minutes by default')
  t.same(await post(app, signedQuery({}, undefined, seconds(-400)), scanXml(SCENE)), { status: 401, body: STALE }, 'captured 400 s ago')
  t.same(await post(app, signedQuery({}, undefined, seconds(-86_400)), scanXml(SCENE)), { status: 401, body: STALE }, 'replayed the next day')
  t.same(await post(app, signedQuery({}, undefined, seconds(400)), scanXml(SCENE)), { status: 401, body: STALE }, 'from the future')
  t.same(await post(app, signedQuery({}, undefined, 'yesterday'), scanXml(SCENE)), { status: 401, body: STALE }, 'not a number')
  t.same(await post(app, signedQuery({}, undefined, '1e10'), scanXml(SCENE)), { status: 401, body: STALE }, 'not a plain decimal')
  const echo = await fetch(`${app.url}/wechat/webhook?${signedQuery({ echostr: '42' }, undefined, seconds(-400))}`)
  t.equal(echo.status, 401, 'the console URL check too')
  const push = encryptedPush(scanXml(SCENE), { timestamp: seconds(-400) })
  t.equal((await post(app, push.query, push.body)).status, 401, 'an encrypted push, refused before any decryption')
  t.equal((await queuedScanJobs(t, app)).length, 0, 'nothing queued')

  const lines = app.logs.map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === 'webhook timestamp outside the accepted window (stale_timestamp)')
  t.equal(lines.length, 7, 'each refusal has its log line')
  t.match(lines[0], { level: 40, skewSeconds: 400, toleranceSeconds: 300 })

  t.same(await post(app, signedQuery({}, undefined, seconds(-250)), scanXml(SCENE)), { status: 200, body: 'success' }, 'inside the window: a slow network is fine')
  t.same(await post(app, signedQuery({}, undefined, seconds(250)), scanXml(SCENE, 'oSkewed')), { status: 200, body: 'success' }, 'a clock a little ahead is fine')
})

t.test('the window is configurable (WECHAT_TIMESTAMP_TOLERANCE_SECONDS)', async (t) => {
  const app = await build(t, { env: { RUN_WORKER: '0', WECHAT_TIMESTAMP_TOLERANCE_SECONDS: '30' } })
  t.same(await post(app, signedQuery({}, undefined, seconds(-90)), scanXml(SCENE)), { status: 401, body: STALE })
  t.same(await post(app, signedQuery({}, undefined, seconds(-5)), scanXml(SCENE)), { status: 200, body: 'success' })
})

t.test('an unsigned request gets bad_signature, whatever its timestamp', async (t) => {
  const app = await build(t, { env: { RUN_WORKER: '0' } })
  const response = await post(app, signedQuery({}, 'someothertoken', seconds(-400)), scanXml(SCENE))
  t.same(response, { status: 401, body: JSON.stringify({ error: 'bad_signature' }) }, 'the signature is checked first: a forger learns nothing about our clock')
})

t.test("WeChat's retries of one event make one job: same FromUserName + CreateTime, fresh signatures", async (t) => {
  const app = await build(t, { env: { RUN_WORKER: '0' } })
  const createTime = seconds(0)
  const answers = []
  // WeChat signs each retry anew; the body's FromUserName and CreateTime are what repeat.
  for (let attempt = 0; attempt < 4; attempt++) answers.push(await post(app, signedQuery(), scanXml(SCENE, 'oRetry', createTime)))
  t.same(answers.map((answer) => answer.status), [200, 200, 200, 200], 'each delivery is acknowledged, so WeChat stops retrying')
  t.equal((await queuedScanJobs(t, app)).length, 1, 'one job')
  const outcomes = app.logs.filter((line) => line.includes('scan event received')).map((line) => (JSON.parse(line) as { outcome: string }).outcome)
  t.same(outcomes, ['queued', 'duplicate', 'duplicate', 'duplicate'])

  t.same(await post(app, signedQuery(), scanXml(SCENE, 'oRetry', String(Number(createTime) + 1))), { status: 200, body: 'success' })
  t.equal((await queuedScanJobs(t, app)).length, 2, 'a later CreateTime is another event (a second scan), not a retry')
})

t.test('safe mode: a retried encrypted push (byte for byte) is one job', async (t) => {
  const emulator = await startModeEmulator(t, 'safe')
  const app = await build(t, { emulator, env: { RUN_WORKER: '0', WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY } })
  const push = await emulator.emulator.pushEvent({ ToUserName: emulator.emulator.originalId, FromUserName: 'oSafe', MsgType: 'event', Event: 'SCAN', EventKey: SCENE, Ticket: 't' })
  const retries = await Promise.all([emulator.emulator.replay(push), emulator.emulator.replay(push)])
  t.same([push, ...retries].map((result) => result.body), ['success', 'success', 'success'])
  t.equal((await queuedScanJobs(t, app)).length, 1)
})

t.test('a second scan of an already confirmed login changes nothing', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  const login = await createLogin(app)
  const [first, second] = emulator.emulator.users.filter((user) => user.following)
  if (first === undefined || second === undefined) throw new Error('the emulator needs two following test users')
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await socket.next()

  const firstScan = await emulator.emulator.scan(login.ticket, first.openid)
  const { message } = await waitForStatus(socket, 'confirmed')

  const done = await completions(t, app, 2)
  const again = await emulator.emulator.scan(login.ticket, first.openid)
  const stranger = await emulator.emulator.scan(login.ticket, second.openid)
  t.ok(Number(again.push.fields.CreateTime) > Number(firstScan.push.fields.CreateTime), 'a real second scan: a later CreateTime, so not a retry')
  t.same([again.body, stranger.body], ['success', 'success'])
  await done()

  const ignored = app.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'scan ignored')
  t.match(ignored, [{ outcome: 'already_confirmed' }, { outcome: 'already_confirmed' }], 'both later jobs found the login already confirmed')
  t.equal(emulator.emulator.counters.userInfoCalls, 1, 'nobody else was looked up')

  const status = await fetch(`${app.url}/api/login/status?scene=${login.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })
  t.match(await status.json(), { status: 'confirmed', code: message.code }, 'the same code as before')
  const redeemed = await exchange(app, message.code ?? '')
  t.match(redeemed.body, { openid: first.openid }, 'the identity is the first scanner\'s')
  t.equal(await socket.closed, 1000)
})

for (const driver of DRIVERS) {
  t.test(`${driver}: a signature seen with one body is refused with another (plaintext signatures do not cover the body)`, async (t) => {
    const app = await build(t, { driver })
    const query = signedQuery()
    const genuine = scanXml(SCENE, 'oVictim')
    t.same(await post(app, query, genuine), { status: 200, body: 'success' }, 'the genuine push')
    t.same(await post(app, query, scanXml(SCENE, 'oAttacker')), { status: 401, body: JSON.stringify({ error: 'signature_reused' }) },
      'the same signed URL carrying a forged body')
    t.same(await post(app, query, genuine), { status: 200, body: 'success' }, 'a retry of the genuine push is still welcome')
    t.ok(app.logs.some((line) => line.includes('signature_reused')), 'the refusal is logged')
    t.notOk(app.logs.some((line) => line.includes(new URLSearchParams(query).get('signature') ?? '?')), 'without the signature itself')
  })
}
