/**
 * `npm run bench`: how long from WeChat's push to the page seeing "confirmed".
 * Real Redis, real BullMQ, real sockets; only WeChat is emulated (in this process, on loopback).
 * A plain script, not a tap test: a test harness' async hooks would be measured too.
 * Timing lives here, never in pass/fail tests.
 */
import { performance } from 'node:perf_hooks'
import { build, createLogin, startEmulator } from '../helper.js'
import type { Scope } from '../helpers/scope.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

const LOGINS = Number(process.env.BENCH_LOGINS ?? 300)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1)
const DRIVER = process.env.BENCH_DRIVER === 'embedded' ? 'embedded' : 'redis'

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

const cleanups: Array<() => unknown> = []
const scope: Scope = { after: (cleanup) => { cleanups.push(cleanup) } }

try {
  const emulator = await startEmulator(scope)
  // One client makes every login here: the per-IP limit would stop a benchmark, not an attacker.
  const app = await build(scope, {
    driver: DRIVER,
    emulator,
    env: { LOG_LEVEL: 'warn', RATE_LIMIT_QR_PER_IP: '0', RATE_LIMIT_QR_GLOBAL: '0' }
  })
  const follower = emulator.emulator.users.find((user) => user.following)
  if (follower === undefined) throw new Error('no following test user')
  const openid = follower.openid

  const latencies: number[] = []
  const webhookTimes: number[] = []
  let started = 0
  async function lane (): Promise<void> {
    while (started < LOGINS) {
      started++
      const login = await createLogin(app)
      const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
      await socket.next()
      const pushed = performance.now()
      const confirmed = waitForStatus(socket, 'confirmed').then(() => performance.now())
      await emulator.emulator.scan(login.ticket, openid)
      webhookTimes.push(performance.now() - pushed)
      latencies.push(await confirmed - pushed)
      await socket.closed
    }
  }
  // Warm-up: the token fetch, connection set-up and JIT are not what this measures.
  for (let i = 0; i < 20; i++) {
    const login = await createLogin(app)
    await emulator.emulator.scan(login.ticket, openid)
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane))

  latencies.sort((a, b) => a - b)
  webhookTimes.sort((a, b) => a - b)
  const row = (name: string, values: number[]) =>
    `${name.padEnd(26)} p50 ${percentile(values, 50).toFixed(2)} ms   p95 ${percentile(values, 95).toFixed(2)} ms   p99 ${percentile(values, 99).toFixed(2)} ms`
  console.log(`${LOGINS} logins, ${CONCURRENCY} at a time, ${DRIVER} driver (BullMQ + WebSocket; WeChat emulated on loopback, in this process)`)
  console.log(row('webhook answered', webhookTimes))
  console.log(row('push → page "confirmed"', latencies))
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
