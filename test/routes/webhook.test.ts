import { Queue } from 'bullmq'
import t, { type Test } from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { WECHAT_EVENTS_QUEUE } from '../../src/jobs/definitions.js'
import { scanXml, signedQuery } from '../fixtures/webhook.js'
import { build, createLogin, startEmulator, type TestApp } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'

async function post (app: TestApp, query: string, body: string, contentType = 'text/xml') {
  const response = await fetch(`${app.url}/wechat/webhook?${query}`, { method: 'POST', headers: { 'content-type': contentType }, body })
  return { status: response.status, body: await response.text() }
}

/** Jobs in the app's real BullMQ queue, in any state. */
async function queuedJobs (t: Test, app: TestApp): Promise<number> {
  const queue = new Queue(WECHAT_EVENTS_QUEUE, { prefix: redisKeyspace(app.config.REDIS_PREFIX).bullPrefix, connection: { url: redisUrl } })
  t.after(() => queue.close())
  const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized')
  return Object.values(counts).reduce((sum, count) => sum + count, 0)
}

t.test('GET answers the console URL check with echostr, only when signed', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const ok = await fetch(`${app.url}/wechat/webhook?${signedQuery({ echostr: '5837397749519814541' })}`)
  t.equal(ok.status, 200)
  t.equal(await ok.text(), '5837397749519814541', 'the raw echostr, nothing else')
  t.match(ok.headers.get('content-type'), /^text\/plain/)

  const forged = await fetch(`${app.url}/wechat/webhook?${signedQuery({ echostr: '1' }, 'wrongtoken')}`)
  t.equal(forged.status, 401)
  const unsigned = await fetch(`${app.url}/wechat/webhook?echostr=1`)
  t.equal(unsigned.status, 401)
})

t.test('POST with a bad signature is 401 and enqueues nothing', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const login = await createLogin(app)
  const forged = await post(app, signedQuery({}, 'wrongtoken'), scanXml(login.scene))
  t.equal(forged.status, 401)
  t.equal(await queuedJobs(t, app), 0)
  t.ok(app.logs.some((line) => line.includes('webhook signature mismatch')), 'the refusal is logged')
})

t.test('malformed or non-WeChat XML is 400 and enqueues nothing', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const login = await createLogin(app)
  const truncated = scanXml(login.scene).slice(0, -10)
  t.equal((await post(app, signedQuery(), truncated)).status, 400, 'truncated XML')
  t.equal((await post(app, signedQuery(), 'not xml at all')).status, 400, 'plain text')
  t.equal((await post(app, signedQuery(), '<feed><entry>1</entry></feed>')).status, 400, 'XML that is not a WeChat push')
  t.equal((await post(app, signedQuery(), JSON.stringify({ xml: { MsgType: 'event' } }), 'application/json')).status, 415, 'JSON is not parsed here')
  t.equal(await queuedJobs(t, app), 0)
})

t.test('events that are not our logins are acknowledged and ignored', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const unknownScene = await post(app, signedQuery(), scanXml('Z'.repeat(32)))
  t.same(unknownScene, { status: 200, body: 'success' }, 'a scene of ours in shape but unknown')
  const foreignCode = await post(app, signedQuery(), scanXml('123'))
  t.same(foreignCode, { status: 200, body: 'success' }, "another of the account's QR codes")
  const text = '<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>' +
    '<CreateTime>1718000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content><MsgId>23456789012345678901</MsgId></xml>'
  t.same(await post(app, signedQuery(), text), { status: 200, body: 'success' }, 'a text message')
  t.equal(await queuedJobs(t, app), 1, 'only the scene shaped like ours reached the queue')
})
