import t, { type Test } from 'tap'
import { startEmulatorServer, type EmulatorServer, type EmulatorServerOptions } from '../fixtures/emulator-server.js'

const APP = { appId: 'wxemulatortokens01', appSecret: 'emulator-secret-0123456789', token: 'emutoken2024' }

/** A clock the test moves by hand: expiry without sleeping. */
function manualClock (start = Date.UTC(2024, 5, 1, 8, 0, 0)) {
  let at = start
  return { now: () => at, advance (ms: number) { at += ms } }
}

async function start (t: Test, options: Partial<EmulatorServerOptions> = {}): Promise<EmulatorServer> {
  const server = await startEmulatorServer({ ...APP, webhookUrl: () => 'http://127.0.0.1:9/unused', ...options })
  t.after(() => server.close())
  return server
}

type Json = Record<string, unknown>

async function getJson (url: string): Promise<{ status: number, body: Json }> {
  const response = await fetch(url)
  return { status: response.status, body: await response.json() as Json }
}

async function postJson (url: string, body: unknown, contentType = 'application/json'): Promise<{ status: number, body: Json }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: response.status, body: await response.json() as Json }
}

function stableBody (overrides: Json = {}): Json {
  return { grant_type: 'client_credential', appid: APP.appId, secret: APP.appSecret, ...overrides }
}

const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/

t.test('stable_token normal mode hands out the same token with the remaining lifetime', async (t) => {
  const clock = manualClock()
  const { url, emulator } = await start(t, { now: clock.now })

  const first = await postJson(`${url}/cgi-bin/stable_token`, stableBody())
  t.equal(first.status, 200)
  t.type(first.body.access_token, 'string')
  t.ok(String(first.body.access_token).length >= 100, 'a long token, like WeChat\'s')
  t.equal(first.body.expires_in, 7200)

  clock.advance(1000 * 1000)
  const again = await postJson(`${url}/cgi-bin/stable_token`, stableBody({ force_refresh: false }))
  t.equal(again.body.access_token, first.body.access_token, 'same token while valid')
  t.equal(again.body.expires_in, 6200, 'with the remaining lifetime')

  // WeChat rotates 5 minutes before expiry; both tokens work until the old one expires.
  clock.advance(6000 * 1000)
  const rotated = await postJson(`${url}/cgi-bin/stable_token`, stableBody())
  t.not(rotated.body.access_token, first.body.access_token, 'rotated in the last 5 minutes')
  t.equal(rotated.body.expires_in, 7200)
  const old = await postJson(`${url}/cgi-bin/qrcode/create?access_token=${String(first.body.access_token)}`, { action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'x' } } })
  t.type(old.body.ticket, 'string', 'the old token still works during the overlap')

  clock.advance(200 * 1000)
  const expired = await postJson(`${url}/cgi-bin/qrcode/create?access_token=${String(first.body.access_token)}`, { action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'x' } } })
  t.equal(expired.body.errcode, 42001, 'then it expires')
  t.match(expired.body.errmsg, RID)

  t.match(emulator.counters, { tokenFetches: 3, tokensIssued: 2, qrCreates: 2 })
})

t.test('stable_token force mode issues a new token and invalidates the old one at once', async (t) => {
  const clock = manualClock()
  const { url } = await start(t, { now: clock.now })
  const create = (token: unknown) => postJson(`${url}/cgi-bin/qrcode/create?access_token=${String(token)}`, { action_name: 'QR_SCENE', action_info: { scene: { scene_id: 7 } } })

  const first = await postJson(`${url}/cgi-bin/stable_token`, stableBody())
  const forced = await postJson(`${url}/cgi-bin/stable_token`, stableBody({ force_refresh: true }))
  t.not(forced.body.access_token, first.body.access_token)
  t.equal(forced.body.expires_in, 7200)
  t.equal((await create(first.body.access_token)).body.errcode, 40001, 'the previous token is dead')
  t.type((await create(forced.body.access_token)).body.ticket, 'string', 'the new one works')

  const normal = await postJson(`${url}/cgi-bin/stable_token`, stableBody())
  t.equal(normal.body.access_token, forced.body.access_token, 'normal mode now hands out the forced token')

  const tooSoon = await postJson(`${url}/cgi-bin/stable_token`, stableBody({ force_refresh: true }))
  t.equal(tooSoon.body.errcode, 45011, 'force refreshes must be 30 s apart')
  clock.advance(30_000)
  t.type((await postJson(`${url}/cgi-bin/stable_token`, stableBody({ force_refresh: true }))).body.access_token, 'string')
})

t.test('force refresh is limited to 20 a day', async (t) => {
  const clock = manualClock()
  const { url } = await start(t, { now: clock.now })
  for (let i = 0; i < 20; i++) {
    t.type((await postJson(`${url}/cgi-bin/stable_token`, stableBody({ force_refresh: true }))).body.access_token, 'string')
    clock.advance(31_000)
  }
  t.equal((await postJson(`${url}/cgi-bin/stable_token`, stableBody({ force_refresh: true }))).body.errcode, 45009)
  clock.advance(24 * 3600 * 1000)
  t.type((await postJson(`${url}/cgi-bin/stable_token`, stableBody({ force_refresh: true }))).body.access_token, 'string', 'a day later it works again')
})

t.test('stable_token refuses what WeChat refuses', async (t) => {
  const { url, emulator } = await start(t)
  const cases: Array<[string, Json | string, number]> = [
    ['bad appid', stableBody({ appid: 'wxsomeoneelse' }), 40013],
    ['bad secret', stableBody({ secret: 'wrong' }), 40125],
    ['bad grant_type', stableBody({ grant_type: 'password' }), 40002],
    ['no appid', stableBody({ appid: undefined }), 41002],
    ['no secret', stableBody({ secret: undefined }), 41004],
    ['not JSON', '{"grant_type":', 47001],
    ['a JSON array', '[]', 47001]
  ]
  for (const [name, body, errcode] of cases) {
    const response = await postJson(`${url}/cgi-bin/stable_token`, body)
    t.equal(response.status, 200, `${name}: HTTP 200 like WeChat`)
    t.equal(response.body.errcode, errcode, name)
    t.match(response.body.errmsg, RID, `${name}: errmsg ends with a rid`)
  }
  const empty = await fetch(`${url}/cgi-bin/stable_token`, { method: 'POST', headers: { 'content-type': 'application/json' } })
  t.equal((await empty.json() as Json).errcode, 44002, 'empty body')

  const get = await getJson(`${url}/cgi-bin/stable_token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.appSecret}`)
  t.equal(get.body.errcode, 43002, 'POST only')

  const plainText = await postJson(`${url}/cgi-bin/stable_token`, JSON.stringify(stableBody()), 'text/plain')
  t.type(plainText.body.access_token, 'string', 'WeChat reads the JSON whatever the content type')
  t.equal(emulator.counters.tokenFetches, cases.length + 3)
})

t.test('cgi-bin/token: each call replaces the previous token, which works 5 more minutes', async (t) => {
  const clock = manualClock()
  const { url } = await start(t, { now: clock.now })
  const fetchToken = () => getJson(`${url}/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.appSecret}`)
  const info = (token: unknown) => getJson(`${url}/cgi-bin/user/info?access_token=${String(token)}&openid=nobody&lang=zh_CN`)

  const first = await fetchToken()
  t.equal(first.body.expires_in, 7200)
  const second = await fetchToken()
  t.not(second.body.access_token, first.body.access_token, 'a new token on every call')
  t.equal((await info(first.body.access_token)).body.errcode, 40003, 'the old token still passes the token check')
  clock.advance(5 * 60 * 1000)
  t.equal((await info(first.body.access_token)).body.errcode, 40001, 'and is invalid 5 minutes later')
  t.equal((await info(second.body.access_token)).body.errcode, 40003, 'the new one lives on')

  t.equal((await getJson(`${url}/cgi-bin/token?grant_type=client_credential&appid=wxnope&secret=${APP.appSecret}`)).body.errcode, 40013)
  t.equal((await getJson(`${url}/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=nope`)).body.errcode, 40125)
  t.equal((await getJson(`${url}/cgi-bin/token?grant_type=other&appid=${APP.appId}&secret=${APP.appSecret}`)).body.errcode, 40002)

  // Isolated families: a cgi-bin/token call leaves the stable token alone.
  const stable = await postJson(`${url}/cgi-bin/stable_token`, stableBody())
  await fetchToken()
  clock.advance(10 * 60 * 1000)
  t.equal((await info(stable.body.access_token)).body.errcode, 40003, 'the stable token is untouched by cgi-bin/token')
})

t.test('invalidateTokens and expireTokens: 40001 and 42001 for every token so far', async (t) => {
  const { url, emulator } = await start(t)
  const info = (token: unknown) => getJson(`${url}/cgi-bin/user/info?access_token=${String(token)}&openid=nobody`)
  const stable = await postJson(`${url}/cgi-bin/stable_token`, stableBody())
  const legacy = await getJson(`${url}/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.appSecret}`)

  emulator.invalidateTokens()
  t.equal((await info(stable.body.access_token)).body.errcode, 40001)
  t.equal((await info(legacy.body.access_token)).body.errcode, 40001)
  const fresh = await postJson(`${url}/cgi-bin/stable_token`, stableBody())
  t.not(fresh.body.access_token, stable.body.access_token, 'normal mode issues a new token once the old one is invalid')
  t.equal((await info(fresh.body.access_token)).body.errcode, 40003)

  emulator.expireTokens()
  t.equal((await info(fresh.body.access_token)).body.errcode, 42001)
  t.equal((await info('')).body.errcode, 41001, 'no token at all')
  t.equal((await info('made-up')).body.errcode, 40001, 'a token WeChat never issued')
})
