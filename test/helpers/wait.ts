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
