/**
 * The benchmark talks to its processes (load generators, baselines, and the measured services
 * through a preloaded module) over Node's IPC channel: the parent asks for a task by name, the child
 * answers with its result. Measuring never crosses this channel: each process times its own work.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import type { Scope } from '../helpers/scope.js'

/** Any one-parameter function: each task names its own parameters' type. */
type Handler = (params: never) => unknown
interface TaskMessage { task: string, id: number, params: unknown }
type Answer = { id: number, value: unknown } | { id: number, error: string }
/** What a child sends once it is up (its URL, say). */
interface Ready { ready: Record<string, unknown> }

const handlers = new Map<string, Handler>()

/**
 * Child side: answers the parent's tasks named in `tasks`. `keepAlive: false` (the preload in a
 * service) lets the process end as it would without the channel.
 */
export function handleTasks (tasks: Record<string, Handler>, { keepAlive = true } = {}): void {
  if (process.send === undefined) throw new Error('started without an IPC channel')
  const first = handlers.size === 0
  for (const [name, handler] of Object.entries(tasks)) handlers.set(name, handler)
  if (!first) return
  process.on('message', (message: TaskMessage) => {
    const handler = handlers.get(message.task)
    Promise.resolve()
      .then(() => { if (handler === undefined) throw new Error(`no task ${message.task}`); return (handler as (params: unknown) => unknown)(message.params) })
      .then((value) => process.send?.({ id: message.id, value }), (error: unknown) => process.send?.({ id: message.id, error: String((error as Error).stack ?? error) }))
  })
  // The parent gone, nothing is left to answer: a load generator ends with it.
  if (keepAlive) process.once('disconnect', () => process.exit(0))
  else process.channel?.unref()
}

/** Child side: tells the parent it is up. */
export function announce (ready: Record<string, unknown> = {}): void {
  process.send?.({ ready } satisfies Ready)
}

export interface TaskClient {
  child: ChildProcess
  pid: number
  call<T = unknown> (task: string, params?: unknown): Promise<T>
}

/** Parent side: tasks asked of a child with an IPC channel (one that preloads or runs handleTasks). */
export function taskClient (child: ChildProcess): TaskClient {
  let nextId = 0
  const pending = new Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void }>()
  child.on('message', (message: Answer | Ready) => {
    if (!('id' in message)) return
    const waiter = pending.get(message.id)
    pending.delete(message.id)
    if ('error' in message) waiter?.reject(new Error(message.error))
    else waiter?.resolve(message.value)
  })
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`process ${child.pid} exited (${code ?? signal}) before answering`))
    pending.clear()
  })
  return {
    child,
    pid: child.pid ?? 0,
    call<T> (task: string, params?: unknown): Promise<T> {
      const id = nextId++
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
        child.send({ task, id, params } satisfies TaskMessage)
      })
    }
  }
}

export interface BenchChild extends TaskClient {
  /** What the child announced. */
  ready: Record<string, unknown>
  stop (): Promise<void>
}

/** Forks dist/test/bench/`file`.js and waits for its announce(); stopped when the scope ends. */
export async function startChild (scope: Scope, file: string, { env = {}, execArgv = [] }: { env?: Record<string, string>, execArgv?: string[] } = {}): Promise<BenchChild> {
  const child = fork(join(import.meta.dirname, `${file}.js`), [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = once(child, 'exit')
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await exited
  }
  scope.after(stop)
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const onMessage = (message: Ready | Answer) => {
      if ('ready' in message) { child.off('exit', onExit); child.off('message', onMessage); resolve(message.ready) }
    }
    const onExit = (code: number | null) => reject(new Error(`${file} exited (${code}) before it was ready`))
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
  return { ...taskClient(child), ready, stop }
}
