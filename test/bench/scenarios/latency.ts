/**
 * Scan to page, one login at a time: the push signed and POSTed by the load generator (the clock
 * starts just before), "confirmed" on the page's socket (it stops). Batches alternate the inline
 * floor and ours, the order flipped every batch, so drift in the machine's load falls on both.
 * Also, in the same stages: QR creations per second, and pages that poll instead of listening.
 */
import type { LoginsTask } from '../generator.js'
import type { LoadResult } from '../../helpers/load.js'
import { figure, type Figure, type Scenario, type Target } from '../report.js'
import { summarize } from '../stats.js'
import type { BenchChild } from '../tasks.js'
import { averaged, cannonRounds } from './cannon.js'
import { inScope, scenarioPrefix, startBaseline, startGenerator, startOurs, type Bench } from '../stage.js'

type Where = Pick<LoginsTask, 'url' | 'socketUrl' | 'webhookUrl'>

export interface Latencies {
  ours: number[]
  floor: number[]
  failures: string[]
}

/** One scenario's p50/p95/p99 figures, the target (if any) on p99. */
export function latencyFigures (ours: readonly number[], floor: readonly number[], p99Target: Target | null): Figure[] {
  const a = summarize(ours)
  const b = summarize(floor)
  return [
    figure('push to page p50', 'ms', a.p50, b.p50),
    figure('push to page p95', 'ms', a.p95, b.p95),
    figure('push to page p99', 'ms', a.p99, b.p99, p99Target)
  ]
}

export async function runLogins (generator: BenchChild, bench: Bench, where: Where, count: number, rate: number | null): Promise<LoadResult> {
  return await generator.call<LoadResult>('logins', { ...where, openids: bench.openids, count, rate } satisfies LoginsTask)
}

/** Warm-up (discarded), then the batches, floor and ours in turn. */
async function alternate (generator: BenchChild, bench: Bench, ours: Where, floor: Where): Promise<Latencies> {
  const { batches, batchSize } = bench.scale
  await runLogins(generator, bench, floor, batchSize, null)
  await runLogins(generator, bench, ours, batchSize, null)
  const result: Latencies = { ours: [], floor: [], failures: [] }
  for (let batch = 0; batch < batches; batch++) {
    const order = batch % 2 === 0 ? ['floor', 'ours'] as const : ['ours', 'floor'] as const
    for (const system of order) {
      const run = await runLogins(generator, bench, system === 'ours' ? ours : floor, batchSize, null)
      result[system].push(...run.latenciesMs)
      result.failures.push(...run.failures.map((failure) => `${system}: ${failure}`))
    }
  }
  return result
}

const detailOf = (latencies: Latencies) => ({ logins: { ours: latencies.ours.length, floor: latencies.floor.length }, failures: latencies.failures.length, firstFailure: latencies.failures[0] ?? null })

async function qrCreations (generator: BenchChild, bench: Bench, oursUrl: string, floorUrl: string): Promise<Scenario> {
  const { qrRounds, qrSeconds, qrConnections } = bench.scale
  const rounds = await cannonRounds(generator, 'qr', { ours: oursUrl, floor: floorUrl }, { rounds: qrRounds, seconds: qrSeconds, connections: qrConnections })
  return {
    id: 'qr-create',
    title: 'QR creations (POST /api/login/qr)',
    baseline: 'inline floor: qrcode/create on WeChat + one Redis SET',
    figures: [
      figure('logins created', 'per s', ...averaged(rounds, (round) => round.perSecond)),
      figure('latency p99', 'ms', ...averaged(rounds, (round) => round.p99))
    ],
    detail: { connections: qrConnections, rounds, roundSeconds: qrSeconds }
  }
}

/** One instance (web and worker) against the one-process inline floor; QR creations on the same pair. */
export async function oneInstance (bench: Bench): Promise<Scenario[]> {
  return await inScope(async (scope) => {
    const [ours, floor, generator] = await Promise.all([
      startOurs(scope, bench, { prefix: scenarioPrefix(scope, bench, 'one') }),
      startBaseline(scope, bench, 'inline-floor', scenarioPrefix(scope, bench, 'one-floor')),
      startGenerator(scope)
    ])
    const latencies = await alternate(generator, bench, { url: ours.url, webhookUrl: ours.url }, { url: floor.url, webhookUrl: floor.url })
    return [{
      id: 'scan-to-page-one',
      title: 'Scan to page, one instance',
      baseline: 'inline floor, one process (no queue)',
      figures: latencyFigures(latencies.ours, latencies.floor, null),
      detail: detailOf(latencies)
    }, await qrCreations(generator, bench, ours.url, floor.url)]
  })
}

export interface TwoInstances {
  scenarios: Scenario[]
  series: Record<string, number[]>
}

/**
 * Two instances, the page's socket on one and WeChat's push on the other (each with its worker),
 * against the inline floor as two processes; then pages polling /api/login/status every 1 s and 2 s.
 */
export async function twoInstances (bench: Bench): Promise<TwoInstances> {
  return await inScope(async (scope) => {
    const prefix = scenarioPrefix(scope, bench, 'two')
    const floorPrefix = scenarioPrefix(scope, bench, 'two-floor')
    const [a, b, floorA, floorB, generator] = await Promise.all([
      startOurs(scope, bench, { prefix }),
      startOurs(scope, bench, { prefix }),
      startBaseline(scope, bench, 'inline-floor', floorPrefix),
      startBaseline(scope, bench, 'inline-floor', floorPrefix),
      startGenerator(scope)
    ])
    const latencies = await alternate(generator, bench, { url: a.url, webhookUrl: b.url }, { url: floorA.url, webhookUrl: floorB.url })
    const polled: Record<string, LoadResult> = {}
    for (const intervalMs of [1000, 2000]) {
      polled[intervalMs] = await generator.call<LoadResult>('polling', {
        url: a.url, webhookUrl: b.url, openids: bench.openids, intervalMs, count: bench.scale.polledLogins, concurrency: bench.scale.pollingConcurrency
      })
    }
    const pollingScenario = (intervalMs: number): Scenario => {
      const run = polled[intervalMs] as LoadResult
      const ours = summarize(latencies.ours)
      const them = summarize(run.latenciesMs)
      return {
        id: `polling-${intervalMs / 1000}s`,
        title: `Scan to page vs polling every ${intervalMs / 1000} s`,
        baseline: `our service, the page polling GET /api/login/status every ${intervalMs / 1000} s (two instances)`,
        figures: [
          figure('push to page p50', 'ms', ours.p50, them.p50),
          figure('push to page p99', 'ms', ours.p99, them.p99)
        ],
        detail: { polledLogins: run.latenciesMs.length, concurrency: bench.scale.pollingConcurrency, failures: run.failures.length, firstFailure: run.failures[0] ?? null }
      }
    }
    return {
      scenarios: [{
        id: 'scan-to-page-two',
        title: 'Scan to page, two instances',
        baseline: 'inline floor, two processes (push on one, socket on the other)',
        figures: latencyFigures(latencies.ours, latencies.floor, { ratioAtMost: 1.5 }),
        detail: detailOf(latencies)
      }, pollingScenario(1000), pollingScenario(2000)],
      series: {
        ours: latencies.ours,
        floor: latencies.floor,
        'polling-1s': (polled[1000] as LoadResult).latenciesMs,
        'polling-2s': (polled[2000] as LoadResult).latenciesMs
      }
    }
  })
}
