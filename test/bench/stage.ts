/**
 * Setting up a scenario: its own Redis prefix (deleted after), the service as real processes
 * (dist/src/server.js, as in production), the baselines and load generators as processes of their
 * own; everything stopped when the scenario ends, so the next one has the machine to itself.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { TEST_WECHAT, freePort } from '../helper.js'
import { startService, type ServiceProcess } from '../helpers/processes.js'
import { deleteKeys, uniquePrefix } from '../helpers/redis.js'
import type { Scope } from '../helpers/scope.js'
import { waitFor } from '../helpers/wait.js'
import type { MemoryReading } from './memory.js'
import type { Scale } from './scale.js'
import { startChild, taskClient, type BenchChild } from './tasks.js'

export interface Bench {
  scale: Scale
  redisUrl: string
  /** The shared WeChat emulator (its own process). */
  emulatorUrl: string
  /** Its users, all following the account. */
  openids: string[]
  /** Where the ingest instance writes its CPU profile, when asked (BENCH_PROFILE_DIR). */
  profileDir?: string
}

/** Runs `body` with a scope of its own and cleans up after it, last registered first. */
export async function inScope<T> (body: (scope: Scope) => Promise<T>): Promise<T> {
  const cleanups: Array<() => unknown> = []
  try {
    return await body({ after: (cleanup) => { cleanups.push(cleanup) } })
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()
  }
}

/** A scenario's keys, deleted when it ends. */
export function scenarioPrefix (scope: Scope, bench: Bench, name: string): string {
  const prefix = uniquePrefix(`bench-${name}`)
  scope.after(() => deleteKeys(prefix, bench.redisUrl))
  return prefix
}

/** Everything the load generators do from one address would hit the per-IP limits meant for the public. */
const NO_LIMITS = {
  RATE_LIMIT_QR_PER_IP: '0',
  RATE_LIMIT_QR_GLOBAL: '0',
  RATE_LIMIT_QR_DAILY: '0',
  RATE_LIMIT_STATUS_PER_IP: '0',
  RATE_LIMIT_SOCKET_PER_IP: '0',
  RATE_LIMIT_EXCHANGE_PER_KEY: '0',
  SOCKET_LIMIT_PER_IP: '0',
  SOCKET_LIMIT_PER_INSTANCE: '0'
}

export interface Ours {
  url: string
  process: ServiceProcess
  /** Settled memory, read over IPC (started with `memory: true`). */
  memory (): Promise<MemoryReading>
}

export interface OursOptions {
  prefix: string
  /** Another WeChat than the shared emulator (the token scenario's fresh one). */
  emulatorUrl?: string
  /** RUN_WORKER=0 and the like. */
  env?: Record<string, string>
  /** --expose-gc and the memory probe, as the bare ws server gets. */
  memory?: boolean
  /** Write a CPU profile here when the process ends. */
  profileDir?: string
}

/**
 * One instance of the service, dist/src/server.js in a process of its own, logging only warnings
 * (a log line per request is the operator's choice, not the architecture's cost). Ready once
 * /readyz says so.
 */
export async function startOurs (scope: Scope, bench: Bench, { prefix, emulatorUrl = bench.emulatorUrl, env = {}, memory = false, profileDir }: OursOptions): Promise<Ours> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const spool = await mkdtemp(join(tmpdir(), 'wql-bench-'))
  scope.after(() => rm(spool, { recursive: true, force: true }))
  const execArgv = [
    ...(memory ? ['--expose-gc', `--import=${pathToFileURL(join(import.meta.dirname, 'memory-probe.js')).href}`] : []),
    ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`])
  ]
  const service = await startService(scope, 'server', {
    ...TEST_WECHAT,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    REDIS_URL: bench.redisUrl,
    REDIS_PREFIX: prefix,
    WECHAT_API_BASE: emulatorUrl,
    WECHAT_MP_BASE: emulatorUrl,
    SPOOL_DIR: spool,
    LOGIN_TTL_SECONDS: '900',
    // As in production: one line per login step and per queued scan, written where nobody reads them.
    LOG_LEVEL: 'info',
    ...NO_LIMITS,
    ...env
  }, {
    execArgv,
    ipc: memory,
    stdout: 'discard',
    ready: (started) => Promise.race([
      waitFor(() => fetch(`${url}/readyz`).then((response) => response.ok, () => false), { timeoutMs: 60_000, intervalMs: 50, what: 'the service to be ready' }),
      started.exited.then(({ code, signal }) => { throw new Error(`the service exited (${code ?? signal}) before it was ready`) })
    ])
  })
  // A profile is written on a clean exit only: SIGTERM, before the scope's SIGKILL.
  if (profileDir !== undefined) scope.after(() => service.stop('SIGTERM'))
  const probe = memory ? taskClient(service.child) : null
  return {
    url,
    process: service,
    memory: async () => {
      if (probe === null) throw new Error('started without the memory probe')
      return await probe.call<MemoryReading>('memory')
    }
  }
}

export type Baseline = 'inline-floor' | 'ingest-floor' | 'bare-ws'

/** A baseline server: its own process, on the same Redis and WeChat as ours; `url` once it listens. */
export async function startBaseline (scope: Scope, bench: Bench, kind: Baseline, prefix: string): Promise<BenchChild & { url: string }> {
  const child = await startChild(scope, kind, {
    env: { ...TEST_WECHAT, REDIS_URL: bench.redisUrl, REDIS_PREFIX: prefix, WECHAT_API_BASE: bench.emulatorUrl },
    execArgv: kind === 'bare-ws' || kind === 'inline-floor' ? ['--expose-gc'] : []
  })
  return Object.assign(child, { url: String(child.ready.url) })
}

/** A load generator process (test/bench/generator.ts). */
export async function startGenerator (scope: Scope): Promise<BenchChild> {
  return await startChild(scope, 'generator')
}
