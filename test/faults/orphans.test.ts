/**
 * No orphans: after every kind of flow, each key under the deployment's prefix either expires or is
 * one of BullMQ's documented, bounded structures (src/drivers/redis/keys.ts), or the hash of a job
 * one of them lists. Then a short steady run: every login completes and the keyspace stays so.
 * The long version, with memory and RSS over time, is `npm run soak` (test/bench/soak.ts).
 */
import { Redis } from 'ioredis'
import t from 'tap'
import { TEST_WECHAT, build, createLogin, exchange, startEmulator } from '../helper.js'
import { auditKeyspace } from '../helpers/keyspace.js'
import { emulatorScanner, steadyLogins } from '../helpers/load.js'
import { redisUrl } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { Browser, authorizeAs, buildOAuthApp, emulatorUsers } from '../oauth/helper.js'

t.setTimeout(120_000)

/** Thirty days: the longest any key of ours lives (a user's OAuth tokens, the token fence). */
const LONGEST_TTL_MS = 30 * 24 * 3600 * 1000

async function scanInApp (appUrl: string, ticket: string, openid: string): Promise<number> {
  const response = await fetch(`${appUrl}/_emulator/_control/scan`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ticket, openid }) })
  await response.body?.cancel()
  return response.status
}

t.test('after every kind of flow, every key expires or is a documented BullMQ structure', async (t) => {
  const app = await buildOAuthApp(t)
  const users = await emulatorUsers(app)
  const [first, second] = users
  if (first === undefined || second === undefined) throw new Error('two test users needed')

  // Follow-scan: redeemed, confirmed and never redeemed, refused by WeChat (a failed job), pushed twice, never scanned.
  const logins = await Promise.all([createLogin(app), createLogin(app), createLogin(app), createLogin(app), createLogin(app)])
  const [redeemed, unredeemed, refused, pushedTwice] = logins
  if (redeemed === undefined || unredeemed === undefined || refused === undefined || pushedTwice === undefined) throw new Error('logins')
  for (const login of [redeemed, unredeemed, pushedTwice]) {
    const socket = await openLoginSocket(app, login)
    t.equal(await scanInApp(app.url, login.ticket, first.openid), 200)
    const { message } = await waitForStatus(socket, 'confirmed')
    if (login === redeemed) t.equal((await exchange(app, message.code ?? '')).status, 200)
  }
  await fetch(`${app.url}/_emulator/_control/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api: 'user/info', errcode: 40003, times: 1 }) })
  const refusedSocket = await openLoginSocket(app, refused)
  t.equal(await scanInApp(app.url, refused.ticket, second.openid), 200)
  await waitForStatus(refusedSocket, 'scanned')
  await waitForStatus(refusedSocket, 'pending')

  // OAuth: inside WeChat (snsapi_base) and the website QR (tokens kept for profile refreshes).
  const browser = new Browser()
  for (const flow of [{ flow: 'mp' as const, scope: 'snsapi_base' }, { flow: 'web' as const }]) {
    const { callback } = await authorizeAs(browser, app, flow, { openid: first.openid })
    const landed = await browser.get(callback)
    t.equal(landed.status, 302, `${flow.flow}: back to the site with a code`)
    t.equal((await exchange(app, new URL(landed.location ?? '').searchParams.get('code') ?? '')).status, 200)
  }
  const profile = await fetch(`${app.url}/api/users/profile`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_WECHAT.API_KEY}` },
    body: JSON.stringify({ openid: first.openid, flow: 'web' })
  })
  t.ok(profile.status === 200 || profile.status === 409, 'a profile read')
  await profile.body?.cancel()

  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  const audit = await auditKeyspace(redis, app.config.REDIS_PREFIX)
  t.same(audit.orphans, [], 'no key that would stay for ever')
  t.ok(audit.longestTtlMs <= LONGEST_TTL_MS, 'none lives longer than thirty days')
  t.ok(audit.structures.includes('completed') && audit.structures.includes('failed'), 'the retained jobs are in BullMQ\'s bounded sets')
  t.comment(`${audit.keys} keys: ${audit.expiring} expiring, ${audit.jobs} retained jobs, structures ${audit.structures.join(' ')}`)
})

t.test('a short steady run: every login completes, nothing orphaned, the keyspace bounded', async (t) => {
  // A Redis of its own: its memory is this run's alone.
  const server = await startRedisServer(t)
  const emulator = await startEmulator(t)
  const app = await build(t, {
    emulator,
    env: { REDIS_URL: server.url, LOG_LEVEL: 'warn', RATE_LIMIT_QR_PER_IP: '0', RATE_LIMIT_QR_GLOBAL: '0', RATE_LIMIT_EXCHANGE_PER_KEY: '0', RATE_LIMIT_SOCKET_PER_IP: '0', SOCKET_LIMIT_PER_IP: '0' }
  })
  const redis = new Redis(server.url)
  t.after(() => redis.quit())
  const memoryBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1])
  const count = 120
  const result = await steadyLogins({ url: app.url, scanner: emulatorScanner(emulator.emulator), rate: 40, count })
  t.same(result.failures, [], 'no failed login')
  t.equal(result.completed, count)

  const audit = await auditKeyspace(redis, app.config.REDIS_PREFIX)
  t.same(audit.orphans, [], 'no orphan')
  t.ok(audit.jobs <= count, 'retained jobs: at most one per login (and BullMQ keeps at most 1000)')
  const memoryAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1])
  t.comment(`${count} logins at 40/s: p50 ${result.latenciesMs[Math.floor(count / 2)]?.toFixed(1)} ms; ${audit.keys} keys (${audit.expiring} expiring); ` +
    `Redis used_memory ${(memoryBefore / 1024).toFixed(0)} → ${(memoryAfter / 1024).toFixed(0)} KiB (the logins' keys until their TTLs; npm run soak shows it level off)`)
})
