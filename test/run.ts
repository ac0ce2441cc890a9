/**
 * `npm test`: runs the suite against a real Redis. REDIS_URL (or TEST_REDIS_URL) when set;
 * otherwise a throwaway redis-server on a free port with no persistence, stopped afterwards.
 * Ends with the line "N passed, N failed" (assertions), which CI reads.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { waitFor } from './helpers/wait.js'

const root = join(import.meta.dirname, '..', '..')

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** One connection attempt, without retries of its own: waitForRedis does the retrying. */
async function ping (url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
  } finally {
    client.disconnect()
  }
}

/** Fails with Redis' last refusal (a refused connection, a wrong password…), as it is the useful message. */
async function waitForRedis (url: string, deadlineMs: number): Promise<void> {
  let lastFailure: unknown
  const answers = () => ping(url).then(() => true, (error: unknown) => { lastFailure = error; return false })
  await waitFor(answers, { timeoutMs: deadlineMs, intervalMs: 50, what: 'Redis to answer' })
    .catch((timedOut: unknown) => { throw lastFailure ?? timedOut })
}

async function startThrowawayRedis (): Promise<{ url: string, server: ChildProcess, dir: string }> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) {
    console.error('npm test needs Redis: set REDIS_URL, or install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis).')
    process.exit(1)
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'wql-test-redis-'))
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  await waitForRedis(url, 10_000)
  return { url, server, dir }
}

async function main (): Promise<void> {
  const given = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL
  const throwaway = given === undefined ? await startThrowawayRedis() : null
  const redisUrl = given ?? throwaway?.url ?? ''
  if (throwaway === null) await waitForRedis(redisUrl, 5_000)

  const files = process.argv.slice(2)
  const tap = spawn(join(root, 'node_modules', '.bin', 'tap'), ['--reporter=tap', ...(files.length > 0 ? files : ['dist/test/**/*.test.js'])], {
    cwd: root,
    env: { ...process.env, TEST_REDIS_URL: redisUrl },
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

  if (throwaway !== null) {
    throwaway.server.kill('SIGTERM')
    await once(throwaway.server, 'exit')
    rmSync(throwaway.dir, { recursive: true, force: true })
  }
  const failed = summary.fail ?? (exitCode === 0 ? 0 : 1)
  console.log(`${summary.pass ?? 0} passed, ${failed} failed`)
  process.exit(exitCode === 0 && failed === 0 ? 0 : 1)
}

await main()
