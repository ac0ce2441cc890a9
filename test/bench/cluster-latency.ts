/**
 * `node dist/test/bench/cluster-latency.js` (after `npm run build`): what Redis Cluster costs
 * against one Redis, for the README's "Redis Cluster". Starts a redis-server and a 3-master
 * cluster of its own on loopback (or uses TEST_REDIS_URL / TEST_REDIS_CLUSTER_NODES), then on each:
 * the push → page "confirmed" latency of logins one after another, what each login costs Redis
 * (commands and CPU, from INFO, summed over the masters), and logins created per second by
 * CLUSTER_BENCH_LANES browsers at once. WeChat is the emulator, in this process.
 */
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { Scope } from '../helpers/scope.js'

const LOGINS = Number(process.env.CLUSTER_BENCH_LOGINS ?? 300)
const LANES = Number(process.env.CLUSTER_BENCH_LANES ?? 16)
const CREATE_MS = Number(process.env.CLUSTER_BENCH_CREATE_MS ?? 5000)

const cleanups: Array<() => unknown> = []
const scope: Scope = { after: (cleanup) => { cleanups.push(cleanup) } }
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN

/** Commands processed and CPU seconds used, summed over `servers`. */
async function usage (servers: Redis[]): Promise<{ commands: number, cpu: number }> {
  let commands = 0
  let cpu = 0
  for (const redis of servers) {
    const info = await redis.info()
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
    commands += field('total_commands_processed')
    cpu += field('used_cpu_user') + field('used_cpu_sys')
  }
  return { commands, cpu }
}

try {
  if (process.env.TEST_REDIS_URL === undefined) {
    const server = await startRedisServer(scope)
    process.env.TEST_REDIS_URL = server.url
  }
  if (process.env.TEST_REDIS_CLUSTER_NODES === undefined) {
    const cluster = await startRedisCluster()
    scope.after(() => cluster.close())
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes
  }
  // The helpers read the suite's Redis from the environment when loaded.
  const { build, createLogin, startEmulator } = await import('../helper.js')
  const { openLoginSocket, waitForStatus } = await import('../helpers/sockets.js')
  const { redisUrl, testCluster } = await import('../helpers/redis.js')
  const single = new Redis(redisUrl)
  const cluster = testCluster()
  scope.after(() => Promise.all([single.quit(), cluster.quit()]))
  await cluster.ping()

  for (const driver of ['redis', 'cluster'] as const) {
    const emulator = await startEmulator(scope)
    const app = await build(scope, { driver, emulator, env: { LOG_LEVEL: 'warn', RATE_LIMIT_QR_PER_IP: '0', RATE_LIMIT_QR_GLOBAL: '0', RATE_LIMIT_QR_DAILY: '0', RATE_LIMIT_SOCKET_PER_IP: '0' } })
    const openid = emulator.emulator.users.find((user) => user.following)?.openid ?? ''
    // Warm-up: the token fetch, connections to every node and JIT are not what this measures.
    for (let i = 0; i < 30; i++) await emulator.emulator.scan((await createLogin(app)).ticket, openid)

    const servers = driver === 'redis' ? [single] : cluster.nodes('master')
    const before = await usage(servers)
    const latencies: number[] = []
    for (let i = 0; i < LOGINS; i++) {
      const login = await createLogin(app)
      const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
      await socket.next()
      const pushed = performance.now()
      const confirmed = waitForStatus(socket, 'confirmed').then(() => performance.now())
      await emulator.emulator.scan(login.ticket, openid)
      latencies.push(await confirmed - pushed)
      await socket.closed
    }
    const after = await usage(servers)

    const creations: number[] = []
    const until = performance.now() + CREATE_MS
    await Promise.all(Array.from({ length: LANES }, async () => {
      while (performance.now() < until) {
        const started = performance.now()
        await createLogin(app)
        creations.push(performance.now() - started)
      }
    }))

    latencies.sort((a, b) => a - b)
    creations.sort((a, b) => a - b)
    console.log(`${driver.padEnd(8)} push → page "confirmed" p50 ${percentile(latencies, 50).toFixed(2)} ms  p99 ${percentile(latencies, 99).toFixed(2)} ms   ` +
      `per login ${((after.commands - before.commands) / LOGINS).toFixed(0)} commands, ${((after.cpu - before.cpu) / LOGINS * 1e6).toFixed(0)} µs Redis CPU   ` +
      `logins created ${(creations.length / (CREATE_MS / 1000)).toFixed(0)}/s (${LANES} at once, p50 ${percentile(creations, 50).toFixed(1)} ms  p99 ${percentile(creations, 99).toFixed(1)} ms)`)
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
