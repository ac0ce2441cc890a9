import { EventEmitter } from 'node:events'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import type { EmulatorServerOptions } from '../fixtures/emulator-server.js'
import { loadConfig } from '../../src/config.js'
import { createDrivers } from '../../src/drivers/index.js'
import type { TokenCache } from '../../src/wechat/access-token.js'
import { waitFor } from '../helpers/wait.js'
import { build, startEmulator, TEST_WECHAT, type TestApp, type TestEmulator } from '../helper.js'
import { cleanupKeys, redisUrl, uniquePrefix } from '../helpers/redis.js'

export interface TokenEmulator extends TestEmulator {
  /** Every access token the emulator handed out, forced or not: what must never appear in a log. */
  issued: Set<string>
  /** A following test user's openid: user/info answers it. */
  follower: string
  /** Emits 'call' (api) as each API request is counted and its faults taken. */
  calls: EventEmitter
}

/** A standalone emulator for the test credentials, with its options (token TTL, force limits). */
export async function startTokenEmulator (t: Test, options: Partial<EmulatorServerOptions> = {}): Promise<TokenEmulator> {
  const server = await startEmulator(t, options)
  const issued = new Set<string>()
  const calls = new EventEmitter()
  // The routes call emulator.handle() per request: wrapping it sees every call and every token it answers.
  const handle = server.emulator.handle.bind(server.emulator)
  server.emulator.handle = async (api, request, handleOptions) => {
    const pending = handle(api, request, handleOptions)
    calls.emit('call', api)
    const outcome = await pending
    if (outcome.kind === 'json' && typeof outcome.body.access_token === 'string') issued.add(outcome.body.access_token)
    return outcome
  }
  const follower = server.emulator.users.find((user) => user.following)
  if (follower === undefined) throw new Error('the emulator has no following test user')
  return Object.assign(server, { issued, calls, follower: follower.openid })
}

/** Each login costs a qrcode/create: the tests fire hundreds, so the per-IP and global limits are off. */
const NO_QR_LIMITS = { RATE_LIMIT_QR_PER_IP: '0', RATE_LIMIT_QR_GLOBAL: '0' }

/** `count` app instances of one deployment: one Redis prefix, web only, all on `emulator`. */
export async function startInstances (t: Test, emulator: TestEmulator, count: number, env: Record<string, string> = {}): Promise<{ apps: TestApp[], prefix: string }> {
  const prefix = uniquePrefix('access-token')
  cleanupKeys(t, prefix)
  const apps: TestApp[] = []
  for (let i = 0; i < count; i++) apps.push(await build(t, { emulator, prefix, env: { RUN_WORKER: '0', ...NO_QR_LIMITS, ...env } }))
  return { apps, prefix }
}

export interface Answer {
  status: number
  body: Record<string, unknown>
}

/** POST /api/login/qr: the app's own request path to WeChat (access token, then qrcode/create). */
export async function createLoginQr (app: TestApp): Promise<Answer> {
  const response = await fetch(`${app.url}/api/login/qr`, { method: 'POST' })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

/** `perInstance` concurrent logins on every instance at once. */
export function fire (apps: TestApp[], perInstance: number): Promise<Answer[]> {
  return Promise.all(apps.flatMap((app) => Array.from({ length: perInstance }, () => createLoginQr(app))))
}

export function created (answers: Answer[]): number {
  return answers.filter((answer) => answer.status === 201).length
}

/** No token the emulator issued, and not the app secret, in any line any instance logged. */
export function assertNothingSecretLogged (t: Test, apps: TestApp[], emulator: TokenEmulator, extraSecrets: string[] = []): void {
  const lines = apps.flatMap((app) => app.logs)
  t.ok(emulator.issued.size > 0 || extraSecrets.length > 0, 'tokens were issued (the check below is not vacuous)')
  const secrets = [...emulator.issued, ...extraSecrets, TEST_WECHAT.WECHAT_APP_SECRET]
  const leaks = lines.filter((line) => secrets.some((secret) => line.includes(secret)))
  t.same(leaks, [], `no token or secret in ${lines.length} log lines`)
}

export const tokenKey = (prefix: string) => `${prefix}wechat:access-token:${TEST_WECHAT.WECHAT_APP_ID}`

export function counters (emulator: TokenEmulator) {
  return emulator.emulator.counters
}

export async function inspector (t: Test): Promise<Redis> {
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  return redis
}

/** The token cache as any process of the deployment sees it (the apps keep theirs encapsulated). */
export async function deploymentCache (t: Test, prefix: string): Promise<TokenCache> {
  const drivers = createDrivers(loadConfig({ ...TEST_WECHAT, REDIS_URL: redisUrl, REDIS_PREFIX: prefix }))
  t.after(() => drivers.close())
  await drivers.ready()
  return drivers.tokenCache
}

/** A forced stable_token call of our own, straight to the emulator. */
export async function forceRefreshProbe (emulator: TokenEmulator): Promise<Record<string, unknown>> {
  const response = await fetch(`${emulator.url}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credential', appid: TEST_WECHAT.WECHAT_APP_ID, secret: TEST_WECHAT.WECHAT_APP_SECRET, force_refresh: true })
  })
  return await response.json() as Record<string, unknown>
}

export function logLines (apps: TestApp[], text: string): string[] {
  return apps.flatMap((app) => app.logs).filter((line) => line.includes(text))
}

/** Watches the lock until `fence` no longer holds it; returns the most token fetches seen meanwhile. */
export async function fetchesWhileHeld (redis: Redis, prefix: string, fence: string, emulator: TokenEmulator): Promise<number> {
  let most = 0
  await waitFor(async () => {
    const held = await redis.get(`${tokenKey(prefix)}:lock`) === fence
    if (held) most = Math.max(most, counters(emulator).tokenFetches)
    return !held
  }, { timeoutMs: 10_000 })
  return most
}
