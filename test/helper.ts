import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { WebSocket } from 'ws'
import app from '../src/app.js'
import { loadConfig, type Config, type Env } from '../src/config.js'
import { serverOptions } from '../src/process.js'
import type { CreatedLogin, StatusMessage } from '../src/wire/login.js'
import { startEmulatorServer, type EmulatorServer, type EmulatorServerOptions } from './fixtures/emulator-server.js'

/** What the helpers need of a test: somewhere to register cleanup. A tap Test is one; so is a benchmark's scope. */
export interface Scope {
  after (cleanup: () => unknown): void
}

/** Test credentials: never real ones. */
export const TEST_WECHAT = {
  WECHAT_APP_ID: 'wxtestapp0000001',
  WECHAT_APP_SECRET: 'test-app-secret-0123456789abcdef',
  WECHAT_TOKEN: 'testtoken2024',
  API_KEY: 'test-api-key-0123456789abcdef'
} as const

export const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix no other test file (or run) shares. */
export function uniquePrefix (name: string): string {
  return `wqltest:${name}:${randomBytes(4).toString('hex')}:`
}

/** A test owns its keys: SCAN + DEL under its prefix, never FLUSHDB. */
export async function deleteKeys (prefix: string): Promise<void> {
  const redis = new Redis(redisUrl)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/** Deletes every key under `prefix` when the test ends. */
export function cleanupKeys (t: Scope, prefix: string): void {
  t.after(() => deleteKeys(prefix))
}

export interface TestEmulator extends EmulatorServer {
  /** Where the emulator pushes scans: one of the app instances. */
  pushTo (target: TestApp): void
}

/** A standalone emulator of the test account; `options` tune it (token TTL, force-refresh limits…). */
export async function startEmulator (t: Scope, options: Partial<EmulatorServerOptions> = {}): Promise<TestEmulator> {
  let webhookUrl = ''
  const server = await startEmulatorServer({
    appId: TEST_WECHAT.WECHAT_APP_ID,
    appSecret: TEST_WECHAT.WECHAT_APP_SECRET,
    token: TEST_WECHAT.WECHAT_TOKEN,
    webhookUrl: () => webhookUrl,
    publicBase: () => server.url,
    ...options
  })
  t.after(() => server.close())
  return Object.assign(server, {
    pushTo (target: TestApp) { webhookUrl = `${target.url}/wechat/webhook` }
  })
}

export interface TestApp {
  fastify: FastifyInstance
  config: Config
  /** http://127.0.0.1:PORT */
  url: string
  /** Every log line the instance wrote, for assertions on what is (not) logged. */
  logs: string[]
}

/** The state drivers every contract test runs against: Redis (production) and embedded (no Redis). */
export const DRIVERS = ['redis', 'embedded'] as const
export type Driver = typeof DRIVERS[number]

export interface BuildOptions {
  /** 'embedded' leaves REDIS_URL unset. Default 'redis'. */
  driver?: Driver
  env?: Env
  /** Shared by instances of one deployment; unique per test otherwise. */
  prefix?: string
  emulator?: TestEmulator
}

/** Builds the app as the server entry would, listening on a free loopback port; closed after the test. */
export async function build (t: Scope, { driver = 'redis', env = {}, prefix, emulator }: BuildOptions = {}): Promise<TestApp> {
  const keyPrefix = prefix ?? uniquePrefix('app')
  if (prefix === undefined) cleanupKeys(t, keyPrefix)
  // The port is chosen first so PUBLIC_URL (and with it the allowed WebSocket origin) is the real one.
  const port = env.PORT ?? String(await freePort())
  const config = loadConfig({
    ...TEST_WECHAT,
    PORT: port,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: driver === 'redis' ? redisUrl : undefined,
    REDIS_PREFIX: keyPrefix,
    LOG_LEVEL: 'debug',
    ...(emulator === undefined ? {} : { WECHAT_API_BASE: emulator.url, WECHAT_MP_BASE: emulator.url }),
    ...env
  })
  const logs: string[] = []
  const sink = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
      callback()
    }
  })
  const fastify = Fastify({ ...serverOptions(config, sink), forceCloseConnections: true })
  await fastify.register(app, { config })
  t.after(() => fastify.close())
  await fastify.listen({ port: config.PORT, host: '127.0.0.1' })
  const built: TestApp = { fastify, config, url: `http://127.0.0.1:${config.PORT}`, logs }
  if (emulator !== undefined && prefix === undefined) emulator.pushTo(built)
  return built
}

export async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}


export async function createLogin (target: TestApp): Promise<CreatedLogin> {
  const response = await fetch(`${target.url}/api/login/qr`, { method: 'POST' })
  if (response.status !== 201) throw new Error(`POST /api/login/qr answered ${response.status}: ${await response.text()}`)
  return await response.json() as CreatedLogin
}

/** A real WebSocket client of /api/login/ws that queues messages so a test awaits them in order. */
export interface LoginSocket {
  next (): Promise<StatusMessage>
  /** Resolves with the close code once the server closed the socket. */
  closed: Promise<number>
  ws: WebSocket
}

export async function openLoginSocket (target: Pick<TestApp, 'url'>, subscribe?: { scene: string, secret: string }): Promise<LoginSocket> {
  const ws = new WebSocket(`${target.url.replace(/^http/, 'ws')}/api/login/ws`)
  const queued: StatusMessage[] = []
  const waiting: Array<(message: StatusMessage) => void> = []
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as StatusMessage
    const waiter = waiting.shift()
    if (waiter !== undefined) waiter(message)
    else queued.push(message)
  })
  const closed = once(ws, 'close').then(([code]) => code as number)
  await once(ws, 'open')
  if (subscribe !== undefined) ws.send(JSON.stringify({ type: 'subscribe', ...subscribe }))
  return {
    ws,
    closed,
    next () {
      const message = queued.shift()
      if (message !== undefined) return Promise.resolve(message)
      return new Promise((resolve, reject) => {
        waiting.push(resolve)
        closed.then((code) => reject(new Error(`socket closed (${code}) before the next message`)), reject)
      })
    }
  }
}

/** Reads messages until one with `status`; the statuses passed on the way are returned too. */
export async function waitForStatus (socket: LoginSocket, status: string): Promise<{ message: StatusMessage, seen: string[] }> {
  const seen: string[] = []
  for (;;) {
    const message = await socket.next()
    // The socket sends an error instead of a status before it closes: recorded, so a test can tell.
    seen.push('error' in message ? `error:${String(message.error)}` : message.status)
    if (message.status === status) return { message, seen }
  }
}

export async function exchange (target: TestApp, code: string, apiKey: string = TEST_WECHAT.API_KEY): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(`${target.url}/api/login/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ code })
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

export interface RedisProxy {
  /** redis://127.0.0.1:PORT, forwarding to the test Redis. */
  url: string
  /** Drops every connection and refuses new ones: Redis is "down" for whoever uses this URL. */
  cut (): void
  restore (): void
}

/** A TCP proxy in front of the real Redis, so a test can take Redis away from one app and give it back. */
export async function startRedisProxy (t: Scope): Promise<RedisProxy> {
  const { createServer, connect } = await import('node:net')
  const target = new URL(redisUrl)
  const sockets = new Set<import('node:net').Socket>()
  let up = true
  const server = createServer((client) => {
    if (!up) { client.destroy(); return }
    const upstream = connect(Number(target.port || 6379), target.hostname)
    sockets.add(client).add(upstream)
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream).pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  }))
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    cut () {
      up = false
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
    restore () { up = true }
  }
}
