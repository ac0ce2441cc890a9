/**
 * `npm run soak`: logins at a steady rate against the server as its own process (web + worker),
 * a redis-server of its own and the WeChat emulator in this process, all on loopback. Every
 * SOAK_SAMPLE_SECONDS it prints Redis' used_memory and key count and the server's RSS; at the end,
 * whether each levelled off once the first logins' keys began to expire, and the keyspace audit
 * (no key without a TTL but BullMQ's bounded structures). Short lifetimes make the steady state
 * come within a minute and a half: logins 10 s (+ the code's 5 s and a minute kept as "expired").
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { TEST_WECHAT, freePort, startEmulator } from '../helper.js'
import { auditKeyspace } from '../helpers/keyspace.js'
import { emulatorScanner, steadyLogins } from '../helpers/load.js'
import { startService } from '../helpers/processes.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { Scope } from '../helpers/scope.js'

const RATE = Number(process.env.SOAK_RATE ?? 20)
const SECONDS = Number(process.env.SOAK_SECONDS ?? 300)
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 15)
const PREFIX = 'soak:'
/** Until then keys only accumulate: the first logins' keys have not expired yet (10 + 5 + 60 s, plus the 120 s dedup keys). */
const WARM_UP_SECONDS = 130

if (!(RATE > 0 && RATE <= 200 && SECONDS > 0 && SECONDS <= 3600)) {
  console.error('SOAK_RATE must be 1-200 logins a second and SOAK_SECONDS 1-3600')
  process.exit(1)
}

interface Sample { at: number, logins: number, failed: number, usedMemory: number, keys: number, rss: number }

async function rssOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/** Growth per minute over the samples taken after the warm-up (least squares), and the range. */
function trend (samples: Sample[], pick: (sample: Sample) => number): { perMinute: number, min: number, max: number } {
  const steady = samples.filter((sample) => sample.at >= WARM_UP_SECONDS)
  const xs = steady.map((sample) => sample.at / 60)
  const ys = steady.map(pick)
  const n = xs.length
  if (n < 2) return { perMinute: NaN, min: Math.min(...ys), max: Math.max(...ys) }
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  const slope = xs.reduce((sum, x, i) => sum + (x - mx) * ((ys[i] ?? 0) - my), 0) / xs.reduce((sum, x) => sum + (x - mx) ** 2, 0)
  return { perMinute: slope, min: Math.min(...ys), max: Math.max(...ys) }
}

const cleanups: Array<() => unknown> = []
const scope: Scope = { after: (cleanup) => { cleanups.push(cleanup) } }
try {
  const redisServer = await startRedisServer(scope)
  const redis = new Redis(redisServer.url)
  scope.after(() => redis.quit())
  const emulator = await startEmulator(scope)
  const port = await freePort()
  const spool = await mkdtemp(join(tmpdir(), 'wql-soak-'))
  scope.after(() => rm(spool, { recursive: true, force: true }))
  const server = await startService(scope, 'server', {
    ...TEST_WECHAT,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: PREFIX,
    WECHAT_API_BASE: emulator.url,
    WECHAT_MP_BASE: emulator.url,
    SPOOL_DIR: spool,
    LOGIN_TTL_SECONDS: '10',
    LOGIN_CODE_TTL_SECONDS: '5',
    WECHAT_TIMESTAMP_TOLERANCE_SECONDS: '30',
    RATE_LIMIT_QR_PER_IP: '0',
    RATE_LIMIT_QR_GLOBAL: '0',
    RATE_LIMIT_EXCHANGE_PER_KEY: '0',
    // "Server listening" is an info line, and the helper waits for it.
    LOG_LEVEL: 'info'
  })
  const url = `http://127.0.0.1:${port}`
  emulator.pushTo({ url })

  console.log(`soak: ${RATE} logins/s for ${SECONDS} s (${RATE * SECONDS} logins), server pid ${server.pid}, loopback only`)
  console.log('   t (s)   logins  failed   Redis used_memory   keys   server RSS')
  const samples: Sample[] = []
  let logins = 0
  let failed = 0
  const started = Date.now()
  const sample = async () => {
    const at = Math.round((Date.now() - started) / 1000)
    const usedMemory = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1])
    const row: Sample = { at, logins, failed, usedMemory, keys: await redis.dbsize(), rss: await rssOf(server.pid) }
    samples.push(row)
    console.log(`${String(at).padStart(8)} ${String(logins).padStart(8)} ${String(failed).padStart(7)} ${mib(usedMemory).padStart(19)} ${String(row.keys).padStart(6)} ${mib(row.rss).padStart(12)}`)
  }
  await sample()
  const sampler = setInterval(() => { sample().catch((error: unknown) => console.error(error)) }, SAMPLE_SECONDS * 1000)
  const result = await steadyLogins({ url, scanner: emulatorScanner(emulator.emulator), rate: RATE, count: RATE * SECONDS, onLogin: (done, failures) => { logins = done; failed = failures } })
  clearInterval(sampler)
  await sample()

  const memory = trend(samples, (row) => row.usedMemory)
  const rss = trend(samples, (row) => row.rss)
  const keys = trend(samples, (row) => row.keys)
  const audit = await auditKeyspace(redis, PREFIX)
  const p = (q: number) => result.latenciesMs[Math.min(result.latenciesMs.length - 1, Math.floor(q * result.latenciesMs.length))]?.toFixed(1)
  console.log(`\n${result.completed} logins completed, ${result.failures.length} failed${result.failures.length > 0 ? ` (first: ${result.failures[0]})` : ''}`)
  console.log(`push → page "confirmed": p50 ${p(0.5)} ms, p95 ${p(0.95)} ms, p99 ${p(0.99)} ms`)
  if (SECONDS > WARM_UP_SECONDS) {
    console.log(`after the ${WARM_UP_SECONDS} s warm-up (least-squares growth per minute, and range):`)
    console.log(`  Redis used_memory ${mib(memory.perMinute)}/min   (${mib(memory.min)} to ${mib(memory.max)})`)
    console.log(`  keys              ${keys.perMinute.toFixed(0)}/min   (${keys.min} to ${keys.max})`)
    console.log(`  server RSS        ${mib(rss.perMinute)}/min   (${mib(rss.min)} to ${mib(rss.max)})`)
  } else {
    console.log(`(run longer than ${WARM_UP_SECONDS} s to see the steady state: SOAK_SECONDS)`)
  }
  console.log(`keyspace: ${audit.keys} keys, ${audit.expiring} expiring (longest ${(audit.longestTtlMs / 1000).toFixed(0)} s), ${audit.jobs} retained jobs, ` +
    `structures ${audit.structures.join(' ')}; orphans: ${audit.orphans.length === 0 ? 'none' : audit.orphans.slice(0, 5).join(', ')}`)
  process.exitCode = result.failures.length === 0 && audit.orphans.length === 0 ? 0 : 1
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
