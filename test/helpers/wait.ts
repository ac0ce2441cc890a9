import { setTimeout as sleep } from 'node:timers/promises'

export interface Deferred<T> {
  promise: Promise<T>
  resolve (value: T): void
}

/** A promise resolved from outside: a test awaits what a callback (a subscriber, a worker) signals. */
export function deferred<T = void> (): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number
  /** What is awaited, for the error when it does not happen in time ("Redis to answer"). */
  what?: string
}

/**
 * Polls `condition` until it holds: only for what no event announces (a TTL expiring, Redis coming
 * back, a counter another process moves). Bounded, so a condition that never holds fails the test
 * instead of hanging it.
 */
export async function waitFor (condition: () => boolean | Promise<boolean>, { timeoutMs = 5000, intervalMs = 10, what = 'the condition' }: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`)
    await sleep(intervalMs)
  }
}

/** A JSON log line, as the app writes it (test/helper.ts keeps them in `logs`). */
export type LoggedLine = Record<string, unknown> & { msg?: string }

/**
 * Resolves with the first line of `logs` (written or to come) that `matches`: a log line is the
 * event. Bounded like waitFor.
 */
export async function waitForLogLine (logs: readonly string[], matches: (line: LoggedLine) => boolean, options: WaitOptions = {}): Promise<LoggedLine> {
  let found: LoggedLine | undefined
  let checked = 0
  await waitFor(() => {
    for (; checked < logs.length && found === undefined; checked++) {
      const line = JSON.parse(logs[checked] ?? '{}') as LoggedLine
      if (matches(line)) found = line
    }
    return found !== undefined
  }, { what: 'a log line', ...options })
  return found as LoggedLine
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms`: a hang fails the test at once. */
export function withDeadline<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms) })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}
