/**
 * `npm run bench`: every scenario in one command, each against its baseline measured in the same
 * run (test/bench/README.md describes them). The service, the WeChat emulator, the baselines and
 * the load generators are processes of their own; Redis is REDIS_URL (or TEST_REDIS_URL), else a
 * throwaway redis-server. Prints a table, writes bench/results.json and bench/scan-to-page.svg
 * (BENCH_OUT: another directory). BENCH_SCALE=full|quick|tiny. BENCH_PROFILE_DIR: the ingest
 * instance writes a CPU profile there (its figures are then the profiler's, not the service's).
 * A plain script, not a tap test: timing lives here, never in pass/fail tests.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Redis } from 'ioredis'
import { startRedisServer, waitForRedis } from '../helpers/redis-server.js'
import { latencyChart, type Series } from './chart.js'
import { machine, table, type Results, type Scenario } from './report.js'
import { benchScale } from './scale.js'
import { idleSockets } from './scenarios/idle-sockets.js'
import { ingest } from './scenarios/ingest.js'
import { oneInstance, twoInstances } from './scenarios/latency.js'
import { tokenFetches } from './scenarios/tokens.js'
import { inScope, type Bench } from './stage.js'
import { startChild } from './tasks.js'

const root = join(import.meta.dirname, '..', '..', '..')
const outDir = resolve(process.env.BENCH_OUT ?? join(root, 'bench'))

async function redisVersion (url: string): Promise<string> {
  const redis = new Redis(url)
  try {
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown'
  } finally {
    redis.disconnect()
  }
}

/** The chart's lines, in the legend's order. */
const SERIES: ReadonlyArray<Omit<Series, 'values'>> = [
  { id: 'floor', label: 'inline floor, two processes', color: '#888888' },
  { id: 'ours', label: 'ours, two instances (WebSocket)', color: '#1a7f37' },
  { id: 'ours-loaded', label: 'ours at 100 logins/s with idle sockets open', color: '#0969da' },
  { id: 'polling-1s', label: 'page polling every 1 s', color: '#bf8700' },
  { id: 'polling-2s', label: 'page polling every 2 s', color: '#cf222e' }
]

const results = await inScope(async (scope): Promise<Results> => {
  const scale = benchScale()
  const given = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL
  const redisUrl = given ?? (await startRedisServer(scope)).url
  await waitForRedis(redisUrl, 5_000)
  const emulator = await startChild(scope, 'emulator')
  const bench: Bench = {
    scale,
    redisUrl,
    emulatorUrl: String(emulator.ready.url),
    openids: await emulator.call<string[]>('openids'),
    ...(process.env.BENCH_PROFILE_DIR === undefined ? {} : { profileDir: resolve(process.env.BENCH_PROFILE_DIR) })
  }
  const about = machine(await redisVersion(redisUrl))
  const scenarios: Scenario[] = []
  const series: Record<string, number[]> = {}
  const step = async <T>(name: string, body: () => Promise<T>): Promise<T> => {
    const started = Date.now()
    process.stderr.write(`bench (${scale.name}): ${name}…`)
    const value = await body()
    process.stderr.write(` ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
    return value
  }
  // BENCH_ONLY=ingest,two (ingest, one, two, idle, tokens): a part, while working on it.
  const only = process.env.BENCH_ONLY?.split(',')
  const runs = (part: string) => only === undefined || only.includes(part)
  if (runs('ingest')) scenarios.push(await step('ingest', () => ingest(bench)))
  if (runs('one')) scenarios.push(...await step('scan to page, one instance; QR creations', () => oneInstance(bench)))
  if (runs('two')) {
    const two = await step('scan to page, two instances; polling pages', () => twoInstances(bench))
    scenarios.push(...two.scenarios)
    Object.assign(series, two.series)
  }
  if (runs('idle')) {
    const idle = await step('idle sockets; logins flowing past them', () => idleSockets(bench))
    scenarios.push(...idle.scenarios)
    Object.assign(series, idle.series)
  }
  if (runs('tokens')) scenarios.push(await step('token fetches', () => tokenFetches(bench)))
  const rounded = Object.fromEntries(Object.entries(series).map(([id, values]) => [id, values.map((value) => Math.round(value * 100) / 100).sort((a, b) => a - b)]))
  return { generatedAt: new Date().toISOString(), scale: scale.name, machine: about, scenarios, series: rounded }
})

await mkdir(outDir, { recursive: true })
await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
const chart = latencyChart(
  `Scan to page: WeChat's push until the page shows "confirmed" (${results.machine.cores} cores, Node ${results.machine.node}, Redis ${results.machine.redis})`,
  SERIES.map((line) => ({ ...line, values: results.series[line.id] ?? [] }))
)
await writeFile(join(outDir, 'scan-to-page.svg'), chart)
console.log(table(results))
console.log(`\nwritten: ${join(outDir, 'results.json')}, ${join(outDir, 'scan-to-page.svg')}`)
