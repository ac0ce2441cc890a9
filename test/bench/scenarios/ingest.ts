/**
 * Ingest: signed SCAN pushes, each a new event for a scene shaped like ours, from 50 connections,
 * against a web-only instance (RUN_WORKER=0: the queue fills, nothing drains it) and against the
 * floor, a bare Fastify route that checks the signature and adds to BullMQ on the same Redis.
 * Rounds alternate floor and ours; the first second of each is a discarded warm-up.
 */
import { figure, type Scenario } from '../report.js'
import { averaged, cannonRounds } from './cannon.js'
import { inScope, scenarioPrefix, startBaseline, startGenerator, startOurs, type Bench } from '../stage.js'

export async function ingest (bench: Bench): Promise<Scenario> {
  const { ingestRounds, ingestSeconds, ingestConnections } = bench.scale
  return await inScope(async (scope) => {
    const [ours, floor, generator] = await Promise.all([
      startOurs(scope, bench, { prefix: scenarioPrefix(scope, bench, 'ingest'), env: { RUN_WORKER: '0' }, ...(bench.profileDir === undefined ? {} : { profileDir: bench.profileDir }) }),
      startBaseline(scope, bench, 'ingest-floor', scenarioPrefix(scope, bench, 'ingest-floor')),
      startGenerator(scope)
    ])
    const rounds = await cannonRounds(generator, 'ingest', { ours: ours.url, floor: floor.url }, { rounds: ingestRounds, seconds: ingestSeconds, connections: ingestConnections })
    return {
      id: 'ingest',
      title: 'Ingest (signed scans, web-only instance)',
      baseline: 'bare Fastify route: signature check + BullMQ add, same Redis',
      figures: [
        figure('pushes answered', 'per s', ...averaged(rounds, (round) => round.perSecond), { ratioAtLeast: 0.5, goal: 0.8 }),
        figure('latency p50', 'ms', ...averaged(rounds, (round) => round.p50)),
        figure('latency p99', 'ms', ...averaged(rounds, (round) => round.p99), { ratioAtMost: 2 })
      ],
      detail: { connections: ingestConnections, rounds, roundSeconds: ingestSeconds, note: 'per-round figures averaged over the rounds (autocannon: latency over the round)' }
    }
  })
}
