/**
 * Idle sockets: one instance holds only sockets (web only; its logins were created through a second
 * instance, which runs the worker), measured before and after N idle subscribed sockets, against a
 * bare `ws` server measured the same way; memory is read after three forced collections (every
 * measured process runs with --expose-gc). With them held, logins flow at 100 a second (created and
 * pushed on the second instance, watched on the first), against the inline floor doing the same
 * while it holds as many idle sockets of its own.
 */
import type { HoldTask } from '../generator.js'
import type { MemoryReading } from '../memory.js'
import { figure, type Scenario } from '../report.js'
import type { BenchChild } from '../tasks.js'
import { inScope, scenarioPrefix, startBaseline, startGenerator, startOurs, type Bench } from '../stage.js'
import { latencyFigures, runLogins } from './latency.js'

interface Held {
  before: MemoryReading
  after: MemoryReading
  /** RSS bytes per held socket: the figure. */
  perSocket: number
  /** V8 heap bytes per held socket: the part JavaScript objects take. */
  heapPerSocket: number
  /** Sockets whose handshake was reset and opened again. */
  reopened: number
}

/** Warms the path with a few sockets, then holds `count` and reads the settled memory before and after. */
async function holdAndMeasure (holder: BenchChild, task: HoldTask, memory: () => Promise<MemoryReading>): Promise<Held> {
  await holder.call('hold', { ...task, count: Math.min(100, task.count) } satisfies HoldTask)
  await holder.call('release')
  const before = await memory()
  const { reopened } = await holder.call<{ reopened: number }>('hold', task)
  const after = await memory()
  return { before, after, perSocket: (after.rss - before.rss) / task.count, heapPerSocket: (after.heapUsed - before.heapUsed) / task.count, reopened }
}

export interface IdleSockets {
  scenarios: Scenario[]
  series: Record<string, number[]>
}

export async function idleSockets (bench: Bench): Promise<IdleSockets> {
  const { idleSockets: count, flowRate, flowSeconds } = bench.scale
  return await inScope(async (scope) => {
    const prefix = scenarioPrefix(scope, bench, 'idle')
    const floorPrefix = scenarioPrefix(scope, bench, 'idle-floor')
    const [sockets, web, bare, floorSockets, floorWeb, holder, flow] = await Promise.all([
      startOurs(scope, bench, { prefix, env: { RUN_WORKER: '0' }, memory: true }),
      startOurs(scope, bench, { prefix }),
      startBaseline(scope, bench, 'bare-ws', scenarioPrefix(scope, bench, 'idle-bare')),
      startBaseline(scope, bench, 'inline-floor', floorPrefix),
      startBaseline(scope, bench, 'inline-floor', floorPrefix),
      startGenerator(scope),
      startGenerator(scope)
    ])
    const ours = { url: web.url, socketUrl: sockets.url, webhookUrl: web.url }
    const floor = { url: floorWeb.url, socketUrl: floorSockets.url, webhookUrl: floorWeb.url }
    const logins = flowRate * flowSeconds

    const oursHeld = await holdAndMeasure(holder, { createUrl: web.url, socketUrl: sockets.url, count }, sockets.memory)
    await runLogins(flow, bench, ours, 20, null)
    const oursFlow = await runLogins(flow, bench, ours, logins, flowRate)
    await holder.call('release')

    const bareHeld = await holdAndMeasure(holder, { createUrl: null, socketUrl: bare.url, count }, () => bare.call<MemoryReading>('memory'))
    await holder.call('release')

    const floorHeld = await holdAndMeasure(holder, { createUrl: floorWeb.url, socketUrl: floorSockets.url, count }, () => floorSockets.call<MemoryReading>('memory'))
    await runLogins(flow, bench, floor, 20, null)
    const floorFlow = await runLogins(flow, bench, floor, logins, flowRate)
    await holder.call('release')

    const kib = (held: Held) => held.perSocket / 1024
    const failures = [...oursFlow.failures.map((failure) => `ours: ${failure}`), ...floorFlow.failures.map((failure) => `floor: ${failure}`)]
    return {
      scenarios: [{
        id: 'idle-socket-memory',
        title: `Idle subscribed sockets (${count} on one instance)`,
        baseline: `bare ws server holding ${count} idle sockets, measured the same way`,
        figures: [figure('RSS per socket', 'KiB', kib(oursHeld), kib(bareHeld), { ratioAtMost: 1.3 })],
        detail: { sockets: count, ours: oursHeld, bareWs: bareHeld, inlineFloor: { ...floorHeld, kibPerSocket: kib(floorHeld) } }
      }, {
        id: 'scan-to-page-loaded',
        title: `Scan to page at ${flowRate} logins/s, ${count} idle sockets open`,
        baseline: `inline floor, two processes, ${count} idle sockets open on the socket one`,
        figures: latencyFigures(oursFlow.latenciesMs, floorFlow.latenciesMs, { oursBelow: 20 }),
        detail: { rate: flowRate, seconds: flowSeconds, logins: { ours: oursFlow.latenciesMs.length, floor: floorFlow.latenciesMs.length }, failures: failures.length, firstFailure: failures[0] ?? null }
      }],
      series: { 'ours-loaded': oursFlow.latenciesMs }
    }
  })
}
