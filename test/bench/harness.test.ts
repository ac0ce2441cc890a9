/**
 * The benchmark itself, at its tiniest scale: it runs every scenario end to end (real processes,
 * real Redis) and writes a complete, self-consistent report and a chart that parses. No figure is
 * judged here: timing belongs to `npm run bench`, never to a pass/fail test.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import t from 'tap'
import { redisUrl } from '../helpers/redis.js'
import { meets, type Results } from './report.js'
import type { Rounds } from './scenarios/cannon.js'

t.setTimeout(120_000)

const SCENARIOS = ['ingest', 'scan-to-page-one', 'qr-create', 'scan-to-page-two', 'polling-1s', 'polling-2s', 'idle-socket-memory', 'scan-to-page-loaded', 'token-fetches']
const SERIES = ['floor', 'ours', 'ours-loaded', 'polling-1s', 'polling-2s']

t.test('npm run bench at the tiny scale reports every scenario against its baseline, and draws the chart', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'wql-bench-out-'))
  t.after(() => rm(out, { recursive: true, force: true }))
  const bench = spawn(process.execPath, [join(import.meta.dirname, 'run.js')], {
    env: { ...process.env, BENCH_SCALE: 'tiny', BENCH_OUT: out, TEST_REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  bench.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  bench.stderr.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  const [code] = await once(bench, 'exit') as [number | null]
  t.equal(code, 0, 'the bench ends with success')
  if (code !== 0) t.comment(output)

  const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results
  t.equal(results.scale, 'tiny')
  t.ok(results.machine.cores > 0 && results.machine.cpu !== '' && results.machine.node === process.version, 'the machine is named')
  t.match(results.machine.redis, /^\d+\.\d+/, "and Redis' version")
  t.same(results.scenarios.map((scenario) => scenario.id), SCENARIOS, 'every scenario, in order')

  for (const scenario of results.scenarios) {
    t.ok(scenario.baseline !== '' && scenario.figures.length > 0, `${scenario.id} names its baseline and has figures`)
    for (const figure of scenario.figures) {
      const what = `${scenario.id}: ${figure.name}`
      // Not positive: a tiny run's memory deltas are noise, and may be negative.
      t.ok(Number.isFinite(figure.ours) && Number.isFinite(figure.baseline) && figure.baseline !== 0, `${what}: both sides measured`)
      t.ok(Math.abs(figure.ratio - figure.ours / figure.baseline) < 1e-9, `${what}: ratio is ours / baseline`)
      t.equal(figure.pass, figure.target === null ? null : meets(figure.target, figure.ours, figure.ratio), `${what}: pass follows the target`)
    }
    const rounds = scenario.detail.rounds as Rounds | undefined
    if (rounds !== undefined) {
      const answers = [...rounds.ours, ...rounds.floor].map((round) => ({ non2xx: round.non2xx, errors: round.errors }))
      t.same(answers, answers.map(() => ({ non2xx: 0, errors: 0 })), `${scenario.id}: every request answered with a 2xx`)
    }
    if ('failures' in scenario.detail) t.equal(scenario.detail.failures, 0, `${scenario.id}: no login failed (${String(scenario.detail.firstFailure)})`)
  }
  const tokens = results.scenarios.find((scenario) => scenario.id === 'token-fetches')
  t.equal(tokens?.figures[0]?.ours, 1, 'four processes fetched one access token between them')
  t.equal(results.scenarios.find((scenario) => scenario.id === 'scan-to-page-two')?.figures.find((figure) => figure.name.endsWith('p99'))?.target !== null, true, 'the two-instance p99 has its target')

  for (const id of SERIES) {
    const values = results.series[id] ?? []
    t.ok(values.length > 0 && values.every((value, index) => value > 0 && (index === 0 || value >= (values[index - 1] ?? 0))), `series ${id}: sorted latencies`)
  }

  const svg = await readFile(join(out, 'scan-to-page.svg'), 'utf8')
  t.equal(XMLValidator.validate(svg), true, 'the chart is well-formed XML')
  const parsed = new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg: { polyline: Array<Record<string, string>> } }
  t.same(parsed.svg.polyline.map((line) => line['@_id']), SERIES, 'with a line for each series')
  for (const line of parsed.svg.polyline) t.ok((line['@_points'] ?? '').split(' ').length >= 2, `${line['@_id']} has points`)
  t.match(output, /Ingest.*pushes answered/s, 'and the table is printed')
})
