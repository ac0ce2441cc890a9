import t, { type Test } from 'tap'
import { createEmulator } from '../../src/emulator/emulator.js'
import { EmulatorError } from '../../src/emulator/errors.js'
import { wechatSignature } from '../../src/wechat/signature.js'
import {
  encryptedPush, queuedScanJobs, scanXml, signedQuery, startModeEmulator, TEST_ENCODING_AES_KEY
} from '../fixtures/webhook.js'
import { loadWeChatVectors, rejectStages } from '../fixtures/wechat-vectors.js'
import { build, createLogin, exchange, TEST_WECHAT, type TestApp } from '../helper.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

const vectors = loadWeChatVectors()
const SCENE = 'E'.repeat(32)
const OTHER_SCENE = 'P'.repeat(32)

async function post (app: TestApp, query: string, body: string) {
  const response = await fetch(`${app.url}/wechat/webhook?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body })
  return { status: response.status, body: await response.text() }
}

/** An app that reads encrypted pushes, without a worker: queued jobs stay in the queue for the test to read. */
async function aesApp (t: Test, env: Record<string, string> = {}): Promise<TestApp> {
  return build(t, { env: { RUN_WORKER: '0', WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY, ...env } })
}

function logged (app: TestApp, message: string): Array<Record<string, unknown>> {
  return app.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === message)
}

/** The query of a safe-mode push whose Encrypt is given (not produced): both signatures fresh, over our token. */
function resignedQuery (encrypt: string, token: string = TEST_WECHAT.WECHAT_TOKEN): string {
  const timestamp = String(Math.floor(Date.now() / 1000))
  const nonce = '1504385017'
  return new URLSearchParams({
    signature: wechatSignature([token, timestamp, nonce]), timestamp, nonce, encrypt_type: 'aes', msg_signature: wechatSignature([token, timestamp, nonce, encrypt])
  }).toString()
}

function safeBody (encrypt: string): string {
  return `<xml><ToUserName><![CDATA[gh_1a2b3c4d5e6f]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`
}

t.test('the emulator pushes in each mode and the webhook reads each', async (t) => {
  for (const mode of ['plaintext', 'compatible', 'safe'] as const) {
    t.test(mode, async (t) => {
      const emulator = await startModeEmulator(t, mode)
      // With a key set, plaintext is accepted only while switching modes.
      const app = await aesApp(t, mode === 'plaintext' ? { WECHAT_ALLOW_PLAINTEXT: '1' } : {})
      emulator.pushTo(app)
      const result = await emulator.emulator.pushEvent({ ToUserName: emulator.emulator.originalId, FromUserName: 'oModeUser', MsgType: 'event', Event: 'SCAN', EventKey: SCENE, Ticket: 't' })
      t.same({ status: result.status, body: result.body }, { status: 200, body: 'success' })
      const query = new URLSearchParams(result.push.query)
      const element = (name: string) => result.push.body.includes(`<${name}>`)
      if (mode === 'plaintext') {
        t.notOk(query.has('encrypt_type') || query.has('msg_signature'), 'no encryption parameters')
        t.notOk(element('Encrypt'))
      } else {
        t.equal(query.get('encrypt_type'), 'aes')
        t.match(query.get('msg_signature'), /^[0-9a-f]{40}$/)
        t.ok(element('Encrypt'))
        t.equal(element('EventKey'), mode === 'compatible', mode === 'safe' ? 'safe mode: nothing but ToUserName and Encrypt' : 'compatible mode: the plaintext fields too')
        t.ok(element('ToUserName'))
      }
      t.match(query.get('signature'), /^[0-9a-f]{40}$/, 'the 3-field signature in every mode')
      t.equal(query.get('openid'), 'oModeUser')
      t.same((await queuedScanJobs(t, app)).map((job) => [job.scene, job.openid]), [[SCENE, 'oModeUser']])
    })
  }
})

t.test('safe mode end to end: scan, socket, code, exchange', async (t) => {
  const emulator = await startModeEmulator(t, 'safe')
  const app = await build(t, { emulator, env: { WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  t.equal((await socket.next()).status, 'pending')
  const user = emulator.emulator.users.find((candidate) => !candidate.following)!
  const push = await emulator.emulator.scan(login.ticket, user.openid)
  t.equal(push.push.mode, 'safe')
  t.notOk(push.push.body.includes(login.scene), 'the scene is not readable in the body')
  t.equal(push.body, 'success', 'the acknowledgement is the plain "success" in safe mode too')
  const { message } = await waitForStatus(socket, 'confirmed')
  const redeemed = await exchange(app, message.code ?? '')
  t.equal(redeemed.status, 200)
  t.match(redeemed.body, { openid: user.openid, scene: login.scene })
})

t.test('compatible mode trusts only the decrypted copy', async (t) => {
  const app = await aesApp(t)
  const forgedSiblings = scanXml(OTHER_SCENE, 'oForged').replace(/^<xml>|<\/xml>$/g, '')
  const push = encryptedPush(scanXml(SCENE, 'oReal'), { mode: 'compatible', plaintextFields: forgedSiblings })
  t.same(await post(app, push.query, push.body), { status: 200, body: 'success' })
  t.same((await queuedScanJobs(t, app)).map((job) => [job.scene, job.openid]), [[SCENE, 'oReal']], 'the scene and openid come from <Encrypt>')

  const text = '<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oReal]]></FromUserName><CreateTime>1718000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>1</MsgId></xml>'
  const disguised = encryptedPush(text, { mode: 'compatible', plaintextFields: scanXml(OTHER_SCENE, 'oForged2').replace(/^<xml>|<\/xml>$/g, '') })
  t.same(await post(app, disguised.query, disguised.body), { status: 200, body: 'success' })
  t.equal((await queuedScanJobs(t, app)).length, 1, 'plaintext scan fields around an encrypted text message queue nothing')
})

t.test('the ciphertexts of vectors W1 (safe) and W2 (compatible) are read through the route', async (t) => {
  for (const id of ['W1', 'W2']) {
    const vector = vectors.webhookRequests.find((candidate) => candidate.id.startsWith(`${id}-`))!
    const { encodingAESKey, appid } = vector.config
    const app = await aesApp(t, { WECHAT_ENCODING_AES_KEY: encodingAESKey!, WECHAT_APP_ID: appid! })
    const encrypt = /<Encrypt><!\[CDATA\[([^\]]+)\]\]><\/Encrypt>/.exec(vector.body ?? '')?.[1] ?? ''
    // The vector's token has a "-" our Token pattern refuses, and its timestamp is years old: re-signed, same bytes otherwise.
    const answer = await post(app, resignedQuery(encrypt), vector.body ?? '')
    t.same(answer, { status: 200, body: vector.expected.responseBody ?? 'success' }, id)
    t.match(logged(app, 'webhook push ignored'), [{ msgType: 'event', event: 'subscribe' }], `${id}: decrypted to its subscribe event (a scene not of ours)`)

    const stale = await post(app, vector.rawQuery, vector.body ?? '')
    t.equal(stale.status, 401, `${id} as published: signed with another token, long ago`)
  }
})

t.test("WeChat's published Python sample (P4) is read through the route", async (t) => {
  const p4 = vectors.aes.find((vector) => vector.id.startsWith('P4-'))!
  const app = await aesApp(t, { WECHAT_TOKEN: p4.token, WECHAT_APP_ID: p4.receiveId, WECHAT_ENCODING_AES_KEY: p4.encodingAESKey })
  const answer = await post(app, resignedQuery(p4.encrypt, p4.token), safeBody(p4.encrypt))
  t.same(answer, { status: 200, body: 'success' })
  t.match(logged(app, 'webhook push ignored'), [{ msgType: 'text' }])
})

t.test('every negative vector is refused by the route: 401 at the signature, 400 after it, the stage logged', async (t) => {
  const apps = new Map<string, TestApp>()
  for (const vector of vectors.negative) {
    // "invalid appid" (N12) is not a valid WECHAT_APP_ID; any other id than the ciphertext's does the same job.
    const appId = /^[A-Za-z0-9_-]+$/.test(vector.receiveId) ? vector.receiveId : 'wxinvalidappid0000'
    const key = `${vector.encodingAESKey}:${appId}`
    let app = apps.get(key)
    if (app === undefined) {
      app = await aesApp(t, { WECHAT_ENCODING_AES_KEY: vector.encodingAESKey, WECHAT_APP_ID: appId })
      apps.set(key, app)
    }
    const stages = rejectStages(vector)
    const signatureOnly = stages.length === 1 && stages[0] === 'signature'
    // Beyond the signature, re-signed with our token and a fresh timestamp so the later stage is what refuses it.
    const query = signatureOnly
      ? signedQuery({ encrypt_type: 'aes', msg_signature: vector.msgSignature })
      : resignedQuery(vector.encrypt)
    const before = app.logs.length
    const answer = await post(app, query, safeBody(vector.encrypt))
    const refusal = app.logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => 'stage' in line)
    if (signatureOnly) {
      t.same(answer, { status: 401, body: JSON.stringify({ error: 'bad_msg_signature' }) }, vector.id)
      t.match(refusal, { stage: 'signature', errcode: -40001, msg: 'webhook msg_signature mismatch' }, `${vector.id}: logged`)
    } else {
      t.same(answer, { status: 400, body: JSON.stringify({ error: 'decrypt_failed' }) }, vector.id)
      t.ok(stages.includes(refusal?.stage as never), `${vector.id}: refused at ${String(refusal?.stage)}, one of ${vector.rejectAt}`)
      t.type(refusal?.errcode, 'number')
    }
  }
  for (const app of apps.values()) t.equal((await queuedScanJobs(t, app)).length, 0)
})

t.test('encrypted pushes that cannot be read are refused precisely', async (t) => {
  const app = await aesApp(t)
  const push = encryptedPush(scanXml(SCENE))
  const query = new URLSearchParams(push.query)

  const noMsgSignature = new URLSearchParams(query)
  noMsgSignature.delete('msg_signature')
  t.same(await post(app, noMsgSignature.toString(), push.body), { status: 401, body: JSON.stringify({ error: 'bad_msg_signature' }) }, 'no msg_signature')
  t.ok(logged(app, 'encrypted webhook push without msg_signature').length === 1)

  const wrong = new URLSearchParams(query)
  wrong.set('msg_signature', '0'.repeat(40))
  t.equal((await post(app, wrong.toString(), push.body)).status, 401, 'a wrong msg_signature')

  const tampered = push.body.replace(/<Encrypt><!\[CDATA\[(.)/, (_all, first: string) => `<Encrypt><![CDATA[${first === 'A' ? 'B' : 'A'}`)
  t.equal((await post(app, push.query, tampered)).status, 401, 'a tampered Encrypt fails msg_signature')

  t.same(await post(app, push.query, '<xml><ToUserName><![CDATA[gh_test]]></ToUserName></xml>'), { status: 400, body: JSON.stringify({ error: 'missing_encrypt' }) }, 'no <Encrypt>')

  const other = new URLSearchParams(query)
  other.set('encrypt_type', 'sm4')
  t.same(await post(app, other.toString(), push.body), { status: 400, body: JSON.stringify({ error: 'unsupported_encrypt_type' }) })

  const foreign = encryptedPush(scanXml(SCENE), { appId: 'wxsomeoneelse00001' })
  t.same(await post(app, foreign.query, foreign.body), { status: 400, body: JSON.stringify({ error: 'decrypt_failed' }) }, 'encrypted for another appid')
  t.match(logged(app, 'webhook push could not be decrypted (receiveId)'), [{ stage: 'receiveId', errcode: -40005 }])

  const notXml = encryptedPush('this is not xml')
  t.same(await post(app, notXml.query, notXml.body), { status: 400, body: JSON.stringify({ error: 'malformed_xml' }) }, 'decrypted text that is not XML')
  const doctype = encryptedPush(`<!DOCTYPE xml [<!ENTITY x "y">]>${scanXml(SCENE)}`)
  t.same(await post(app, doctype.query, doctype.body), { status: 400, body: JSON.stringify({ error: 'malformed_xml' }) }, 'a DOCTYPE inside the ciphertext')
  t.match(logged(app, 'decrypted webhook push is not valid XML'), [{ reason: 'invalid' }, { reason: 'dtd' }])

  t.equal((await queuedScanJobs(t, app)).length, 0, 'nothing was queued')
  t.same(await post(app, push.query, push.body), { status: 200, body: 'success' }, 'the intact push still passes')
  t.equal((await queuedScanJobs(t, app)).length, 1)
})

t.test('an encrypted push without WECHAT_ENCODING_AES_KEY is a 400 with an error log line', async (t) => {
  const app = await build(t, { env: { RUN_WORKER: '0' } })
  const push = encryptedPush(scanXml(SCENE))
  t.same(await post(app, push.query, push.body), { status: 400, body: JSON.stringify({ error: 'encryption_not_configured' }) })
  const [line] = logged(app, 'encrypted webhook push (encrypt_type=aes) but WECHAT_ENCODING_AES_KEY is not set')
  t.equal(line?.level, 50, 'logged as an error: the operator must act')
  t.equal((await queuedScanJobs(t, app)).length, 0)
})

t.test('with a key set, a plaintext push is a downgrade and is refused, unless WECHAT_ALLOW_PLAINTEXT', async (t) => {
  const strict = await aesApp(t)
  const refused = { status: 401, body: JSON.stringify({ error: 'encryption_required' }) }
  t.same(await post(strict, signedQuery(), scanXml(SCENE)), refused, 'its signature does not cover the body: refused')
  t.same(await post(strict, signedQuery({ encrypt_type: 'raw' }), scanXml(SCENE, 'oRaw')), refused, 'encrypt_type=raw is plaintext too')
  t.equal((await queuedScanJobs(t, strict)).length, 0)
  t.equal(logged(strict, 'plaintext webhook push refused: WECHAT_ENCODING_AES_KEY is set (WECHAT_ALLOW_PLAINTEXT=1 accepts them while switching modes)').length, 2, 'each refusal is logged with what to do')

  const switching = await aesApp(t, { WECHAT_ALLOW_PLAINTEXT: '1' })
  t.same(await post(switching, signedQuery(), scanXml(SCENE)), { status: 200, body: 'success' })
  t.same(await post(switching, signedQuery({ encrypt_type: 'raw' }), scanXml(SCENE, 'oRaw')), { status: 200, body: 'success' })
  t.equal((await queuedScanJobs(t, switching)).length, 2, 'while the console switches modes, plaintext is accepted')
})

t.test('an EncodingAESKey of any other length than 43 is refused at boot', async (t) => {
  for (const key of [TEST_ENCODING_AES_KEY.slice(0, 42), `${TEST_ENCODING_AES_KEY}A`, `${TEST_ENCODING_AES_KEY.slice(0, 42)}=`]) {
    await t.rejects(build(t, { env: { WECHAT_ENCODING_AES_KEY: key } }), /WECHAT_ENCODING_AES_KEY/, `${key.length} characters`)
  }
})

t.test('the emulator: modes need a key, per-push modes, the phone page offers them', async (t) => {
  const base = { appId: TEST_WECHAT.WECHAT_APP_ID, appSecret: TEST_WECHAT.WECHAT_APP_SECRET, token: TEST_WECHAT.WECHAT_TOKEN, webhookUrl: () => 'http://127.0.0.1:9/', publicBase: () => 'http://127.0.0.1:9' }
  t.throws(() => createEmulator({ ...base, mode: 'safe' }), /needs the encodingAesKey/)
  t.throws(() => createEmulator({ ...base, mode: 'compatible', encodingAesKey: 'short' }), /EncodingAESKey must be exactly 43 characters/)
  const plain = createEmulator(base)
  t.same(plain.modes, ['plaintext'])
  await t.rejects(plain.pushEvent({ ToUserName: 'gh', FromUserName: 'o', MsgType: 'event' }, { mode: 'safe' }), EmulatorError)
  await plain.close()
  const keyed = createEmulator({ ...base, mode: 'compatible', encodingAesKey: TEST_ENCODING_AES_KEY })
  t.equal(keyed.mode, 'compatible')
  t.same(keyed.modes, ['plaintext', 'compatible', 'safe'])
  await keyed.close()

  const app = await build(t, { env: { WECHAT_EMULATOR: '1', WECHAT_EMULATOR_MODE: 'safe', WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY } })
  const login = await createLogin(app)
  const page = await (await fetch(`${app.url}/_emulator/scan?ticket=${encodeURIComponent(login.ticket)}`)).text()
  t.match(page, /<input type="radio" name="mode" value="safe" checked>/, 'the configured mode is preselected')
  t.match(page, /name="mode" value="plaintext"/)
  const { users } = await (await fetch(`${app.url}/_emulator/_control/users`)).json() as { users: Array<{ openid: string }> }
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await socket.next()
  const scanned = await fetch(`${app.url}/_emulator/_control/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ticket: login.ticket, openid: users[0]!.openid, mode: 'compatible' })
  })
  const result = await scanned.json() as { status: number, reply: { kind: string }, push: Record<string, unknown> }
  t.match(result, { status: 200, reply: { kind: 'none' }, push: { mode: 'compatible', fields: { Event: 'SCAN' } } }, 'a scan in another mode than the default')
  t.same(Object.keys(result).sort(), ['push', 'reply', 'status'])
  t.same(Object.keys(result.push).sort(), ['fields', 'mode'], 'and no signed URL, query or body: the control API hands out no signature')
  // Done before the app closes: a job still calling the in-app emulator would hold the close.
  await waitForStatus(socket, 'confirmed')
  const form = await fetch(`${app.url}/_emulator/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ticket: login.ticket, openid: users[0]!.openid, mode: 'bogus' }).toString()
  })
  t.equal(form.status, 400, 'an unknown mode from the form is refused')
})
