/**
 * Every test starts `const app = await build(t)`: the app as the server entry builds it, on a free
 * port, closed after the test. Redis keys, login sockets and waiting are in test/helpers/.
 */
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import app from '../src/app.js'
import { loadConfig, type Config, type Env } from '../src/config.js'
import { serverOptions } from '../src/process.js'
import type { CreatedLogin } from '../src/wire/login.js'
import { startEmulatorServer, type EmulatorServer, type EmulatorServerOptions } from './fixtures/emulator-server.js'
import { cleanupKeys, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireClusterNodes } from './helpers/redis-cluster.js'
import { freeLoopbackPort } from './helpers/redis-server.js'
import type { Scope } from './helpers/scope.js'

/** Test credentials: never real ones. */
export const TEST_WECHAT = {
  WECHAT_APP_ID: 'wxtestapp0000001',
  WECHAT_APP_SECRET: 'test-app-secret-0123456789abcdef',
  WECHAT_TOKEN: 'testtoken2024',
  API_KEY: 'test-api-key-0123456789abcdef'
} as const

export interface TestEmulator extends EmulatorServer {
  /** Where the emulator pushes scans: one of the app instances (or a load balancer in front of them). */
  pushTo (target: Pick<TestApp, 'url'>): void
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
    pushTo (target: Pick<TestApp, 'url'>) { webhookUrl = `${target.url}/wechat/webhook` }
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
/** The whole-flow tests run on a Redis Cluster as well (the suite's, REDIS_CLUSTER_NODES). */
export const DRIVERS_AND_CLUSTER = [...DRIVERS, 'cluster'] as const
export type Driver = typeof DRIVERS_AND_CLUSTER[number]

export interface BuildOptions {
  /** 'embedded' leaves REDIS_URL unset; 'cluster' sets REDIS_CLUSTER_NODES instead. Default 'redis'. */
  driver?: Driver
  env?: Env
  /** Shared by instances of one deployment; unique per test otherwise. */
  prefix?: string
  emulator?: TestEmulator
}

/** Builds the app as the server entry would, listening on a free loopback port; closed after the test. */
export async function build (t: Scope, { driver = 'redis', env = {}, prefix, emulator }: BuildOptions = {}): Promise<TestApp> {
  const keyPrefix = prefix ?? uniquePrefix('app')
  if (prefix === undefined) cleanupKeys(t, keyPrefix, driver === 'cluster' ? 'cluster' : 'single')
  // The port is chosen first so PUBLIC_URL (and with it the allowed WebSocket origin) is the real one.
  const port = env.PORT ?? String(await freeLoopbackPort())
  const config = loadConfig({
    ...TEST_WECHAT,
    PORT: port,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: driver === 'redis' ? redisUrl : undefined,
    REDIS_CLUSTER_NODES: driver === 'cluster' ? requireClusterNodes() : undefined,
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
  // Closed even when the app fails to boot: the plugins that did start have connections open.
  t.after(() => fastify.close())
  await fastify.register(app, { config })
  await fastify.listen({ port: config.PORT, host: '127.0.0.1' })
  const built: TestApp = { fastify, config, url: `http://127.0.0.1:${config.PORT}`, logs }
  if (emulator !== undefined && prefix === undefined) emulator.pushTo(built)
  return built
}

export { freeLoopbackPort as freePort }

export async function createLogin (target: Pick<TestApp, 'url'>): Promise<CreatedLogin> {
  const response = await fetch(`${target.url}/api/login/qr`, { method: 'POST' })
  if (response.status !== 201) throw new Error(`POST /api/login/qr answered ${response.status}: ${await response.text()}`)
  return await response.json() as CreatedLogin
}

export async function exchange (target: Pick<TestApp, 'url'>, code: string, apiKey: string = TEST_WECHAT.API_KEY): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(`${target.url}/api/login/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ code })
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

/** The error loadConfig refuses the test credentials plus `env` with, or null when it accepts them. */
export function configRefusal (env: Record<string, string>): Error | null {
  try {
    loadConfig({ ...TEST_WECHAT, ...env })
    return null
  } catch (error) {
    return error as Error
  }
}
