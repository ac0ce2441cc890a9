/**
 * `npm test`: runs the suite against a real Redis. REDIS_URL (or TEST_REDIS_URL) when set;
 * otherwise a throwaway redis-server on a free port with no persistence, stopped afterwards. And
 * against a real Redis Cluster: TEST_REDIS_CLUSTER_NODES when set, otherwise three throwaway
 * masters on loopback joined by redis-cli. Either missing fails the run: no test is skipped.
 * Ends with the line "N passed, N failed" (assertions), which CI reads.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { clusterToolsProblem, startRedisCluster } from './helpers/redis-cluster.js'
import { hasRedisServer, startRedisServer, waitForRedis } from './helpers/redis-server.js'

const root = join(import.meta.dirname, '..', '..')

async function main (): Promise<void> {
  const given = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL
  if (given === undefined && !hasRedisServer()) {
    console.error('npm test needs Redis: set REDIS_URL, or install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis).')
    process.exit(1)
  }
  const givenCluster = process.env.TEST_REDIS_CLUSTER_NODES
  const clusterProblem = givenCluster === undefined ? clusterToolsProblem() : null
  if (clusterProblem !== null) {
    console.error(`npm test needs a Redis Cluster: set TEST_REDIS_CLUSTER_NODES (host:port of its masters), or install the tools to start one. ${clusterProblem}`)
    process.exit(1)
  }
  const throwaway = given === undefined ? await startRedisServer() : null
  const redisUrl = given ?? throwaway?.url ?? ''
  if (throwaway === null) await waitForRedis(redisUrl, 5_000)
  const throwawayCluster = givenCluster === undefined
    ? await startRedisCluster().catch(async (error: unknown) => {
      // startRedisCluster has stopped the nodes it started.
      await throwaway?.close()
      console.error(`npm test could not start its Redis Cluster: ${(error as Error).message}`)
      process.exit(1)
    })
    : null
  const clusterNodes = givenCluster ?? throwawayCluster?.nodes ?? ''

  const files = process.argv.slice(2)
  const tap = spawn(join(root, 'node_modules', '.bin', 'tap'), ['--reporter=tap', ...(files.length > 0 ? files : ['dist/test/**/*.test.js'])], {
    cwd: root,
    env: { ...process.env, TEST_REDIS_URL: redisUrl, TEST_REDIS_CLUSTER_NODES: clusterNodes },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let summary: { pass?: number, fail?: number } = {}
  let buffered = ''
  tap.stdout?.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk)
    buffered += chunk.toString('utf8')
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      const match = /^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(line)
      if (match !== null) summary = { pass: Number(match[2]), fail: Number(match[3] ?? 0) }
    }
  })
  const [exitCode] = await once(tap, 'exit') as [number | null]

  await Promise.all([throwaway?.close(), throwawayCluster?.close()])
  const failed = summary.fail ?? (exitCode === 0 ? 0 : 1)
  console.log(`${summary.pass ?? 0} passed, ${failed} failed`)
  process.exit(exitCode === 0 && failed === 0 ? 0 : 1)
}

await main()
