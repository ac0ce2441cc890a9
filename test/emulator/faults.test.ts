import { Agent } from 'undici'
import t, { type Test } from 'tap'
import { waitFor } from '../helpers/wait.js'
import { createEmulator } from '../../src/emulator/emulator.js'
import { createFaults } from '../../src/emulator/faults.js'
import { fetchStableToken } from '../../src/wechat/token-source.js'
import { WeChatApiError, WeChatTransportError } from '../../src/wechat/errors.js'
import { createWeChatHttp } from '../../src/wechat/http.js'
import { startEmulatorServer, type EmulatorServer, type EmulatorServerOptions } from '../fixtures/emulator-server.js'

const APP = { appId: 'wxemulatorfaults01', appSecret: 'emulator-secret-faults-01', token: 'emuFaultToken' }

async function start (t: Test, options: Partial<EmulatorServerOptions> = {}): Promise<EmulatorServer> {
  const server = await startEmulatorServer({ ...APP, webhookUrl: () => 'http://127.0.0.1:9/unused', ...options })
  t.after(() => server.close())
  return server
}

/** The service's own WeChat client, pointed at the emulator. */
function clientOf (t: Test, server: EmulatorServer) {
  const dispatcher = new Agent()
  t.after(() => dispatcher.close())
  const http = createWeChatHttp({ baseUrl: () => server.url, timeoutMs: 5000, dispatcher })
  return {
    stableToken: () => fetchStableToken(http, APP.appId, APP.appSecret, false),
    userInfo: (token: string, openid: string) => http<Record<string, unknown>>({
      api: 'user/info', method: 'GET', path: '/cgi-bin/user/info', query: { access_token: token, openid }
    })
  }
}

/** The error a call failed with, or null when it did not fail. */
function failure (promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => null, (error: unknown) => error)
}

async function control (server: EmulatorServer, method: string, path: string, body?: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/_control${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

t.test('an errcode for the next N calls, then normal again', async (t) => {
  const server = await start(t)
  const client = clientOf(t, server)
  server.emulator.faults.errcode('stable_token', -1, 2)
  for (let i = 0; i < 2; i++) {
    const error = await client.stableToken().catch((caught: unknown) => caught)
    t.ok(error instanceof WeChatApiError, `call ${i + 1} fails`)
    t.match(error, { errcode: -1, errmsg: /^system error rid: / })
    t.type((error as WeChatApiError).rid, 'string', 'the client finds the rid')
  }
  t.type((await client.stableToken()).access_token, 'string', 'the third call works')
  t.equal(server.emulator.counters.tokenFetches, 3, 'faulted calls are counted')
  t.same(server.emulator.faults.list(), [], 'a used-up fault is gone')
})

t.test('faults target one API, or every API with "*"', async (t) => {
  const server = await start(t)
  const client = clientOf(t, server)
  const { access_token: token } = await client.stableToken()
  const follower = server.emulator.users.find((user) => user.following)!

  server.emulator.faults.errcode('token', 40164, 5)
  t.equal((await client.userInfo(token, follower.openid)).subscribe, 1, 'a token fault leaves user/info alone')

  server.emulator.faults.inject({ api: '*', errcode: 45009, times: 2 })
  t.match(await failure(client.userInfo(token, follower.openid)), { errcode: 45009 })
  t.match(await failure(client.stableToken()), { errcode: 45009 })
  t.equal((await client.userInfo(token, follower.openid)).subscribe, 1)

  server.emulator.faults.clear()
  t.same(server.emulator.faults.list(), [], 'clear() removes the rest')
})

t.test('down: the connection drops (reset) or WeChat answers 503', async (t) => {
  const server = await start(t)
  const client = clientOf(t, server)
  server.emulator.faults.down('stable_token', { times: 1 })
  t.match(await failure(client.stableToken()), { name: 'WeChatTransportError', failure: 'network' }, 'reset: a network failure')
  t.type((await client.stableToken()).access_token, 'string', 'then up again')

  server.emulator.faults.down('stable_token', { times: 1, mode: '503' })
  t.match(await failure(client.stableToken()), { name: 'WeChatTransportError', failure: 'http_status' }, '503: an HTTP failure')
  t.type((await client.stableToken()).access_token, 'string')
  t.equal(server.emulator.counters.tokenFetches, 4)
})

t.test('down for a duration, by the emulator\'s clock', async (t) => {
  let now = Date.UTC(2024, 0, 1)
  const server = await start(t, { now: () => now })
  const client = clientOf(t, server)
  server.emulator.faults.down('*', { durationMs: 10_000 })
  await t.rejects(client.stableToken(), WeChatTransportError)
  now += 9_999
  await t.rejects(client.stableToken(), WeChatTransportError, 'still down')
  now += 1
  t.type((await client.stableToken()).access_token, 'string', 'up once the duration passed')
})

t.test('latency delays the answer; a fast call overtakes a slow one', async (t) => {
  const server = await start(t)
  const client = clientOf(t, server)
  const { access_token: token } = await client.stableToken()
  const follower = server.emulator.users.find((user) => user.following)!
  server.emulator.faults.latency('user/info', 150, 1)

  const order: string[] = []
  const slow = client.userInfo(token, follower.openid).then((info) => { order.push('slow'); return info })
  const fast = client.stableToken().then((fetched) => { order.push('fast'); return fetched })
  await Promise.all([slow, fast])
  t.same(order, ['fast', 'slow'])
  t.equal((await slow).subscribe, 1, 'a slow answer is still a normal answer')
})

t.test('latency until cleared, and a pending slow call does not hold close()', async (t) => {
  const emulator = createEmulator({ ...APP, webhookUrl: () => 'unused', publicBase: () => 'http://emulator' })
  emulator.faults.latency('token', 60_000)
  const aborter = new AbortController()
  let settled = false
  const pending = emulator.handle('token', { method: 'GET', query: {} }, { signal: aborter.signal }).finally(() => { settled = true })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(settled, false, 'the call waits')
  aborter.abort()
  t.same(await pending, { kind: 'down', mode: 'reset' }, 'aborted: no answer')
  t.equal(emulator.faults.list().length, 1, 'a fault without times stays')
  emulator.faults.clear('token')
  t.match(await emulator.handle('token', { method: 'GET', query: {} }), { kind: 'json', body: { errcode: 40002 } }, 'cleared: answered at once')

  const server = await start(t)
  server.emulator.faults.latency('*', 60_000)
  const request = fetch(`${server.url}/cgi-bin/token`).then(() => 'answered', () => 'dropped')
  await waitFor(() => server.emulator.counters.tokenFetches > 0, { what: 'the call to reach the emulator' })
  await server.close()
  t.equal(await request, 'dropped', 'closing the server drops the slow call instead of waiting a minute')
})

t.test('faults combine: latency adds up, down wins over an errcode without using it', (t) => {
  let now = 0
  const faults = createFaults(() => now)
  faults.latency('user/info', 10)
  faults.inject({ api: '*', latencyMs: 5, times: 1 })
  faults.errcode('user/info', 45009, 1)
  faults.down('user/info', { times: 1 })
  t.same(faults.take('user/info'), { errcode: null, latencyMs: 15, down: 'reset' })
  t.same(faults.take('user/info'), { errcode: 45009, latencyMs: 10, down: null }, 'the errcode waited for the next call')
  t.same(faults.take('user/info'), { errcode: null, latencyMs: 10, down: null })
  t.same(faults.take('token'), { errcode: null, latencyMs: 0, down: null })
  faults.inject({ api: 'token', errcode: -1, durationMs: 100 })
  now = 100
  t.same(faults.take('token'), { errcode: null, latencyMs: 0, down: null }, 'a duration ends')
  t.throws(() => faults.inject({ api: 'token' }), RangeError, 'a fault needs an effect')
  t.throws(() => faults.inject({ api: 'token', down: true, errcode: -1 }), RangeError)
  t.throws(() => faults.errcode('token', 0), RangeError)
  t.throws(() => faults.inject({ api: 'nope' as 'token', errcode: -1 }), RangeError)
  t.end()
})

t.test('the control API', async (t) => {
  const server = await start(t)
  const client = clientOf(t, server)

  const injected = await control(server, 'POST', '/faults', { api: 'stable_token', errcode: 45009, times: 1 })
  t.equal(injected.status, 201)
  t.match(injected.body, { fault: { api: 'stable_token', errcode: 45009, remaining: 1 } })
  t.match((await control(server, 'GET', '/faults')).body, { faults: [{ errcode: 45009 }] })
  t.match(await failure(client.stableToken()), { errcode: 45009 })
  const { access_token: token } = await client.stableToken()

  t.equal((await control(server, 'POST', '/faults', { api: 'nope', errcode: 1 })).status, 400, 'unknown api')
  t.equal((await control(server, 'POST', '/faults', { api: 'token' })).status, 400, 'no effect')
  t.equal((await control(server, 'POST', '/faults', { api: 'token', down: '503', errcode: -1 })).status, 400, 'down and errcode')

  t.equal((await control(server, 'POST', '/faults', { api: '*', down: '503', durationMs: 60_000 })).status, 201)
  await t.rejects(client.stableToken(), WeChatTransportError)
  t.same((await control(server, 'DELETE', '/faults')).body, { ok: true })
  t.same((await control(server, 'GET', '/faults')).body, { faults: [] })

  const follower = server.emulator.users.find((user) => user.following)!
  t.equal((await client.userInfo(token, follower.openid)).subscribe, 1)
  t.same((await control(server, 'POST', '/invalidate-tokens')).body, { ok: true })
  t.match(await failure(client.userInfo(token, follower.openid)), { errcode: 40001 })

  const fresh = (await client.stableToken()).access_token
  await control(server, 'POST', '/expire-tokens')
  t.match(await failure(client.userInfo(fresh, follower.openid)), { errcode: 42001 })

  const unfollowed = await control(server, 'POST', '/follow', { openid: follower.openid, following: false })
  t.match(unfollowed.body, { user: { openid: follower.openid, following: false } })
  t.equal((await control(server, 'POST', '/follow', { openid: 'oNobody', following: true })).status, 404)

  const counters = await control(server, 'GET', '/counters')
  t.match(counters.body, { tokenFetches: 4, userInfoCalls: 3, qrCreates: 0, tokensIssued: 2 })

  t.same((await control(server, 'POST', '/reset')).body, { ok: true })
  t.same((await control(server, 'GET', '/counters')).body, { tokenFetches: 0, qrCreates: 0, userInfoCalls: 0, tokensIssued: 0, pushes: 0 })
  const users = (await control(server, 'GET', '/users')).body.users as Array<{ openid: string, following: boolean }>
  t.equal(users.find((user) => user.openid === follower.openid)?.following, true, 'users are back as configured')
  t.match(await failure(client.userInfo(fresh, follower.openid)), { errcode: 40001 }, 'tokens are forgotten')

  const scan = await control(server, 'POST', '/scan', { ticket: 'gQnope==', openid: follower.openid })
  t.same(scan, { status: 404, body: { error: 'unknown_ticket', message: scan.body.message } })
})
