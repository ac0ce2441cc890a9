/**
 * The service as real processes (dist/src/server.js, dist/src/worker.js), for the fault tests that
 * kill, stop and roll them. Each process' JSON log lines are kept, so a test waits on what it says.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import type { Scope } from './scope.js'

const ENTRIES = {
  server: join(import.meta.dirname, '..', '..', 'src', 'server.js'),
  worker: join(import.meta.dirname, '..', '..', 'src', 'worker.js')
} as const

export type LogLine = Record<string, unknown> & { msg?: string }

export interface ServiceProcess {
  child: ChildProcess
  pid: number
  /** Every JSON line the process wrote to stdout, parsed. */
  logs: LogLine[]
  /** Resolves with the first line (already written or to come) that `matches`; rejects if the process exits first. */
  waitForLog (matches: (line: LogLine) => boolean, what?: string): Promise<LogLine>
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Sends `signal` and waits for the exit. */
  stop (signal?: NodeJS.Signals): Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export interface StartOptions {
  /** Node's own flags (the benchmark's --expose-gc, --cpu-prof). */
  execArgv?: string[]
  /** Opens an IPC channel (child.send), for a module preloaded with --import. */
  ipc?: boolean
  /**
   * Resolves once the process is up; by default its "started" info line (LOG_LEVEL info or lower).
   * The benchmark logs only warnings and asks /readyz instead.
   */
  ready?: (service: ServiceProcess) => Promise<unknown>
  /**
   * 'discard': its log lines go to /dev/null unread (the benchmark: a service logging at info as in
   * production, without the benchmark's own process parsing thousands of lines a second).
   */
  stdout?: 'parse' | 'discard'
}

/**
 * Starts an entry with exactly `env` (plus PATH), and waits until it is up (by default, until it
 * says it started). Killed at the end of the scope if still running.
 */
export async function startService (scope: Scope, entry: keyof typeof ENTRIES, env: Record<string, string>, options: StartOptions = {}): Promise<ServiceProcess> {
  const { execArgv = [], ipc = false, stdout = 'parse', ready = (started: ServiceProcess) => started.waitForLog((line) => line.msg === 'worker started' || String(line.msg).startsWith('Server listening at'), 'it started') } = options
  const child = spawn(process.execPath, [...execArgv, ENTRIES[entry]], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', stdout === 'parse' ? 'pipe' : 'ignore', 'pipe', ...(ipc ? ['ipc' as const] : [])]
  })
  const logs: LogLine[] = []
  const waiters = new Set<{ matches: (line: LogLine) => boolean, resolve: (line: LogLine) => void }>()
  let stderr = ''
  let buffered = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const text of lines) {
      if (text.trim() === '') continue
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        line = { msg: text }
      }
      logs.push(line)
      for (const waiter of [...waiters]) {
        if (waiter.matches(line)) {
          waiters.delete(waiter)
          waiter.resolve(line)
        }
      }
    }
  })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  scope.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })

  const service: ServiceProcess = {
    child,
    pid: child.pid ?? 0,
    logs,
    exited,
    waitForLog (matches, what = 'a log line') {
      const seen = logs.find(matches)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        waiters.add({ matches, resolve })
        exited.then(({ code, signal }) => reject(new Error(`${entry} exited (${code ?? signal}) before ${what}\n${stderr}`)), reject)
      })
    },
    async stop (signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return await exited
    }
  }
  await ready(service)
  return service
}

/** A log line's message is `msg`. */
export const withMessage = (msg: string) => (line: LogLine): boolean => line.msg === msg
