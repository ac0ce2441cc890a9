/**
 * Login sockets cannot be piled up: upgrades are limited per client, open sockets per client, per
 * instance and per login, and a subscribe's secret is checked before anything is subscribed in Redis.
 */
import { once } from 'node:events'
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { WebSocket } from 'ws'
import { build, createLogin, startEmulator, type TestApp } from '../helper.js'
import { openLoginSocket, type LoginSocket } from '../helpers/sockets.js'
import { redisUrl } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'

/** An upgrade: 'open' or the HTTP status it was refused with (and the body's error). */
function upgrade (app: TestApp, t: Test, headers: Record<string, string> = {}): Promise<{ outcome: number | 'open', ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${app.url.replace(/^http/, 'ws')}/api/login/ws`, { headers })
    t.after(() => ws.terminate())
    ws.on('open', () => resolve({ outcome: 'open', ws }))
    ws.on('unexpected-response', (_request, response) => resolve({ outcome: response.statusCode ?? 0, ws }))
    ws.on('error', () => {})
  })
}

t.test('one client holds at most SOCKET_LIMIT_PER_IP open sockets (IPv6: per /64); a closed one frees its place', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { SOCKET_LIMIT_PER_IP: '3', TRUST_PROXY: '127.0.0.1' } })
  const from = (address: string) => upgrade(app, t, { 'x-forwarded-for': address })
  const held = [await from('2001:db8:9::1'), await from('2001:db8:9::2'), await from('2001:db8:9::3')]
  t.same(held.map((socket) => socket.outcome), ['open', 'open', 'open'])
  t.equal((await from('2001:db8:9::4')).outcome, 429, 'a fourth from the same /64 is refused before the upgrade')
  t.equal((await from('203.0.113.5')).outcome, 'open', 'another client is not')
  t.ok(app.logs.some((line) => line.includes('"code":"too_many_sockets"') && line.includes('per_client')), 'the refusal is logged with its cap')
  const first = held[0]?.ws
  await new Promise((resolve) => { first?.once('close', resolve); first?.close() })
  // The server hears of the close on its own side of the connection, which nothing tells the client.
  let reopened: number | 'open' = 0
  await waitFor(async () => (reopened = (await from('2001:db8:9::5')).outcome) === 'open', { what: 'a closed socket to give its place back' })
  t.equal(reopened, 'open', 'a closed socket gave its place back')
})

t.test('an instance holds at most SOCKET_LIMIT_PER_INSTANCE', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { SOCKET_LIMIT_PER_INSTANCE: '2', SOCKET_LIMIT_PER_IP: '0', TRUST_PROXY: '127.0.0.1' } })
  const outcomes = []
  for (const address of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) outcomes.push((await upgrade(app, t, { 'x-forwarded-for': address })).outcome)
  t.same(outcomes, ['open', 'open', 429])
  t.ok(app.logs.some((line) => line.includes('per_instance')))
})

t.test('upgrades are limited per client per minute (RATE_LIMIT_SOCKET_PER_IP)', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { RATE_LIMIT_SOCKET_PER_IP: '2' } })
  const outcomes = []
  for (let i = 0; i < 3; i++) {
    const { outcome, ws } = await upgrade(app, t)
    outcomes.push(outcome)
    ws.terminate()
  }
  t.same(outcomes, ['open', 'open', 429], 'opening and dropping sockets in a loop is limited too')
})

t.test('one login is watched by at most SOCKET_LIMIT_PER_LOGIN sockets; closing one lets another in', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { SOCKET_LIMIT_PER_LOGIN: '2' } })
  const login = await createLogin(app)
  const credentials = { scene: login.scene, secret: login.secret }
  const watchers: LoginSocket[] = []
  for (let i = 0; i < 2; i++) {
    const socket = await openLoginSocket(app, credentials)
    t.equal((await socket.next()).status, 'pending')
    watchers.push(socket)
  }
  const third = await openLoginSocket(app, credentials)
  t.same(await third.next(), { type: 'error', error: 'too_many_sockets' })
  t.equal(await third.closed, 4429)
  const other = await createLogin(app)
  const elsewhere = await openLoginSocket(app, { scene: other.scene, secret: other.secret })
  t.equal((await elsewhere.next()).status, 'pending', 'another login has its own share')

  watchers[0]?.ws.close()
  await watchers[0]?.closed
  const replacement = await openLoginSocket(app, credentials)
  t.equal((await replacement.next()).status, 'pending')
})

t.test('a wrong secret never subscribes to anything in Redis', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  // Redis' own record of every command it runs (MONITOR, read raw: one line per command).
  const target = new URL(redisUrl)
  const monitor = connect(Number(target.port || 6379), target.hostname)
  t.after(() => monitor.destroy())
  await once(monitor, 'connect')
  monitor.write('MONITOR\r\n')
  const subscribed: string[] = []
  const channels = redisKeyspace(app.config.REDIS_PREFIX).loginChannel('')
  let pending = ''
  monitor.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString('utf8')).split('\r\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const match = /"subscribe" "([^"]+)"/i.exec(line)
      if (match?.[1]?.startsWith(channels) === true) subscribed.push(match[1].slice(channels.length))
    }
  })
  await new Promise((resolve) => monitor.once('data', resolve))
  const login = await createLogin(app)
  const guesses = await Promise.all(Array.from({ length: 5 }, () => openLoginSocket(app, { scene: login.scene, secret: 'a-guessed-secret' })))
  for (const guess of guesses) {
    t.same(await guess.next(), { type: 'error', error: 'not_found' })
    t.equal(await guess.closed, 4404)
  }
  t.same(subscribed, [], 'five guesses, no subscription')
  const owner = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  t.equal((await owner.next()).status, 'pending')
  // MONITOR reports asynchronously; the holder's subscription is the event to wait for.
  await waitFor(() => subscribed.length > 0, { what: 'the subscription of the secret\'s holder' })
  t.same(subscribed, [login.scene], 'only the secret\'s holder subscribed')
})

t.test('one heartbeat for every socket: a socket that answers pings stays, one that stops answering is dropped at the next tick', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { SOCKET_PING_SECONDS: '1' } })
  const url = `${app.url.replace(/^http/, 'ws')}/api/login/ws`
  const subscribed = async (options: { autoPong: boolean }) => {
    const login = await createLogin(app)
    const ws = new WebSocket(url, options)
    t.after(() => ws.terminate())
    const counted = { ws, pings: 0 }
    ws.on('ping', () => { counted.pings++ })
    await once(ws, 'open')
    ws.send(JSON.stringify({ type: 'subscribe', scene: login.scene, secret: login.secret }))
    await once(ws, 'message')
    return counted
  }
  const alive = await subscribed({ autoPong: true })
  // A phone that lost its network: the TCP connection stays, nothing answers.
  const silent = await subscribed({ autoPong: false })
  const [code] = await once(silent.ws, 'close') as [number]
  t.equal(code, 1006, 'the silent socket was dropped without a close frame')
  t.equal(silent.pings, 1, 'after the one ping it did not answer')
  const pingsAtDrop = alive.pings
  await waitFor(() => alive.pings >= pingsAtDrop + 2, { what: 'two more pings to the live socket' })
  t.equal(alive.ws.readyState, WebSocket.OPEN, 'the socket that answers is kept')
  t.ok(app.logs.some((line) => line.includes('missed their pong')), 'the drop is logged')
})

t.test('the heartbeat pings many sockets slice by slice: every socket is pinged each interval, a silent one in a later slice is dropped', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { SOCKET_PING_SECONDS: '1', SOCKET_LIMIT_PER_IP: '0', RATE_LIMIT_SOCKET_PER_IP: '0' } })
  // More than one slice holds (32 at least): the sweep goes on after its first slice.
  const count = 80
  const sockets = await Promise.all(Array.from({ length: count }, async (_, index) => {
    const silent = index === count - 1
    const ws = new WebSocket(`${app.url.replace(/^http/, 'ws')}/api/login/ws`, { autoPong: !silent })
    t.after(() => ws.terminate())
    const counted = { ws, pings: 0 }
    ws.on('ping', () => { counted.pings++ })
    await once(ws, 'open')
    return counted
  }))
  const silent = sockets[count - 1]
  if (silent === undefined) throw new Error('no silent socket')
  const [code] = await once(silent.ws, 'close') as [number]
  t.equal(code, 1006, 'the silent socket, in the last slice, was dropped')
  const answering = sockets.slice(0, -1)
  t.ok(answering.every((socket) => socket.pings >= 1), 'every other socket was pinged, those of later slices included')
  t.ok(answering.every((socket) => socket.ws.readyState === WebSocket.OPEN), 'and kept: each answered')
})
