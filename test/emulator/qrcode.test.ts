import t, { type Test } from 'tap'
import { startEmulatorServer, type EmulatorServer, type EmulatorServerOptions } from '../fixtures/emulator-server.js'

const APP = { appId: 'wxemulatorqrcode01', appSecret: 'emulator-secret-abcdef0123', token: 'emutoken2024' }

type Json = Record<string, unknown>

async function start (t: Test, options: Partial<EmulatorServerOptions> = {}): Promise<EmulatorServer & { accessToken: string }> {
  const server = await startEmulatorServer({ ...APP, webhookUrl: () => 'http://127.0.0.1:9/unused', ...options })
  t.after(() => server.close())
  const response = await fetch(`${server.url}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credential', appid: APP.appId, secret: APP.appSecret })
  })
  const { access_token: accessToken } = await response.json() as { access_token: string }
  return Object.assign(server, { accessToken })
}

async function createQr (server: EmulatorServer & { accessToken: string }, body: unknown, token = server.accessToken): Promise<Json> {
  const response = await fetch(`${server.url}/cgi-bin/qrcode/create?access_token=${encodeURIComponent(token)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  if (response.status !== 200) throw new Error(`WeChat answers HTTP 200 even for errors, not ${response.status}`)
  return await response.json() as Json
}

async function userInfo (server: EmulatorServer & { accessToken: string }, openid: string): Promise<Json> {
  const response = await fetch(`${server.url}/cgi-bin/user/info?access_token=${encodeURIComponent(server.accessToken)}&openid=${encodeURIComponent(openid)}&lang=zh_CN`)
  return await response.json() as Json
}

const strScene = (scene: string, expireSeconds?: number) => ({
  ...(expireSeconds === undefined ? {} : { expire_seconds: expireSeconds }),
  action_name: 'QR_STR_SCENE',
  action_info: { scene: { scene_str: scene } }
})

t.test('qrcode/create answers a ticket, its lifetime and the URL of the phone page', async (t) => {
  const server = await start(t)
  const created = await createQr(server, strScene('login-abc_123', 600))
  t.same(Object.keys(created).sort(), ['expire_seconds', 'ticket', 'url'])
  t.equal(created.expire_seconds, 600)
  const ticket = String(created.ticket)
  t.match(ticket, /^gQ[A-Za-z0-9+/]+==$/, 'base64 text like WeChat\'s tickets')
  t.ok(ticket.includes('+') && ticket.includes('/'), 'with + and / so an unencoded ticket breaks')
  t.equal(created.url, `${server.url}/scan?ticket=${encodeURIComponent(ticket)}`)
  t.equal(new URL(String(created.url)).searchParams.get('ticket'), ticket, 'the URL carries the ticket encoded')

  const found = server.emulator.findQrCode(ticket)
  t.match(found, { expired: false, code: { scene: 'login-abc_123', sceneStr: 'login-abc_123', actionName: 'QR_STR_SCENE' } })
  t.equal(server.emulator.counters.qrCreates, 1)
})

t.test('expire_seconds: 60 by default, at most 30 days', async (t) => {
  const server = await start(t)
  t.equal((await createQr(server, strScene('a'))).expire_seconds, 60)
  t.equal((await createQr(server, strScene('b', 2_592_000))).expire_seconds, 2_592_000)
  t.equal((await createQr(server, strScene('c', 9_999_999))).expire_seconds, 2_592_000, 'longer is capped')
  const numeric = await createQr(server, { expire_seconds: 300, action_name: 'QR_SCENE', action_info: { scene: { scene_id: 4_294_967_295 } } })
  t.equal(server.emulator.findQrCode(String(numeric.ticket))?.code.scene, '4294967295', 'a numeric scene is its decimal string')
  const permanent = await createQr(server, { action_name: 'QR_LIMIT_STR_SCENE', action_info: { scene: { scene_str: 'forever' } } })
  t.same(Object.keys(permanent).sort(), ['ticket', 'url'], 'permanent codes have no expire_seconds')
})

t.test('the code expires after expire_seconds', async (t) => {
  let now = Date.UTC(2024, 0, 1)
  const server = await start(t, { now: () => now })
  const created = await createQr(server, strScene('short', 30))
  t.equal(server.emulator.findQrCode(String(created.ticket))?.expired, false)
  now += 30_000
  t.equal(server.emulator.findQrCode(String(created.ticket))?.expired, true)
})

t.test('qrcode/create refuses malformed bodies with 40053 and bad tokens first', async (t) => {
  const server = await start(t)
  const invalid: Array<[string, unknown]> = [
    ['no action_name', { action_info: { scene: { scene_str: 'x' } } }],
    ['unknown action_name', { action_name: 'QR_WHATEVER', action_info: { scene: { scene_str: 'x' } } }],
    ['no action_info', { action_name: 'QR_STR_SCENE' }],
    ['no scene', { action_name: 'QR_STR_SCENE', action_info: {} }],
    ['empty scene_str', strScene('')],
    ['65-byte scene_str', strScene('x'.repeat(65))],
    ['scene_str too long in UTF-8 bytes', strScene('登'.repeat(22))],
    ['scene_str not a string', { action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 5 } } }],
    ['scene_id zero', { action_name: 'QR_SCENE', action_info: { scene: { scene_id: 0 } } }],
    ['scene_id beyond 32 bits', { action_name: 'QR_SCENE', action_info: { scene: { scene_id: 4_294_967_296 } } }],
    ['permanent scene_id beyond 100000', { action_name: 'QR_LIMIT_SCENE', action_info: { scene: { scene_id: 100_001 } } }],
    ['negative expire_seconds', strScene('x', -5)],
    ['fractional expire_seconds', { ...strScene('x'), expire_seconds: 1.5 }]
  ]
  for (const [name, body] of invalid) {
    t.equal((await createQr(server, body)).errcode, 40053, name)
  }
  t.equal((await createQr(server, strScene('x'.repeat(64)))).expire_seconds, 60, '64 bytes is fine')
  t.equal((await createQr(server, '{nope')).errcode, 47001, 'not JSON')
  t.equal((await createQr(server, strScene('x'), 'not-a-token')).errcode, 40001, 'unknown token')
  t.equal((await createQr(server, strScene('x'), '')).errcode, 41001, 'missing token')
  server.emulator.expireTokens()
  t.equal((await createQr(server, { garbage: true })).errcode, 42001, 'the token is checked before the body')
})

t.test('showqrcode renders the ticket\'s URL as a PNG, 404 for an unknown ticket', async (t) => {
  const server = await start(t)
  const created = await createQr(server, strScene('image'))
  const image = await fetch(`${server.url}/cgi-bin/showqrcode?ticket=${encodeURIComponent(String(created.ticket))}`)
  t.equal(image.status, 200)
  t.equal(image.headers.get('content-type'), 'image/png')
  const bytes = Buffer.from(await image.arrayBuffer())
  t.same([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature')
  t.ok(bytes.length > 500, 'a real image')

  // Unencoded, the ticket's "+" turns into a space: WeChat would not find it either.
  const unencoded = await fetch(`${server.url}/cgi-bin/showqrcode?ticket=${String(created.ticket)}`)
  t.equal(unencoded.status, 404)
  t.equal((await fetch(`${server.url}/cgi-bin/showqrcode?ticket=gQnope%3D%3D`)).status, 404)
  t.equal((await fetch(`${server.url}/cgi-bin/showqrcode`)).status, 404)
})

t.test('user/info: subscribe, unionid only when bound, no nickname, 40003 for strangers', async (t) => {
  const server = await start(t)
  const users = server.emulator.users
  t.ok(users.length >= 4)
  for (const user of users) t.match(user.openid, /^o[A-Za-z0-9_-]{27}$/, `${user.nickname}: a 28-character openid`)
  t.ok(users.some((user) => user.following) && users.some((user) => !user.following), 'followers and non-followers')
  t.ok(users.some((user) => user.unionid === null), 'someone without unionid')
  t.equal(new Set(users.map((user) => user.openid.slice(0, 6))).size, 1, 'openids of one account share their prefix')

  const follower = users.find((user) => user.following && user.unionid !== null)!
  const info = await userInfo(server, follower.openid)
  t.match(info, { subscribe: 1, openid: follower.openid, unionid: follower.unionid, subscribe_scene: 'ADD_SCENE_SEARCH', qr_scene_str: '' })
  t.type(info.subscribe_time, 'number')
  t.notOk('nickname' in info, 'WeChat stopped returning nicknames')
  t.notOk('headimgurl' in info)

  const withoutUnionid = users.find((user) => user.following && user.unionid === null)!
  t.notOk('unionid' in await userInfo(server, withoutUnionid.openid), 'no unionid field when the account is not bound')

  const stranger = users.find((user) => !user.following)!
  t.match(await userInfo(server, stranger.openid), { subscribe: 0, openid: stranger.openid })
  t.notOk('subscribe_time' in await userInfo(server, stranger.openid), 'nothing else for a non-follower')

  t.equal((await userInfo(server, 'oUnknownUserOfAnotherApp00001')).errcode, 40003)
  t.equal((await userInfo(server, '')).errcode, 41009)
  t.equal(server.emulator.counters.userInfoCalls, 6)

  const again = await startEmulatorServer({ ...APP, webhookUrl: () => 'http://127.0.0.1:9/unused' })
  t.after(() => again.close())
  t.same(again.emulator.users.map((user) => user.openid), users.map((user) => user.openid), 'openids are stable for one appid')
})
