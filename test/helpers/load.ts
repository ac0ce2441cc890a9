/**
 * Logins at a steady rate, each one whole: created, watched over a socket, scanned (the emulator
 * pushes), confirmed, redeemed. For the soak (`npm run soak`) and its short version in the suite.
 */
import { performance } from 'node:perf_hooks'
import type { Emulator } from '../../src/emulator/types.js'
import { createLogin, exchange } from '../helper.js'
import { openLoginSocket, waitForStatus } from './sockets.js'
import { withDeadline } from './wait.js'

export interface SteadyLoad {
  /** The service (or a balancer in front of it). */
  url: string
  emulator: Emulator
  /** Logins started per second. */
  rate: number
  /** How many are started in all. */
  count: number
  /** At most this many at once: a slow service slows the load, never piles it up. */
  maxInFlight?: number
  /** Called after each login, done or failed. */
  onLogin?: (done: number, failed: number) => void
}

export interface LoadResult {
  completed: number
  failures: string[]
  /** Push to "confirmed" on the page, per login, sorted. */
  latenciesMs: number[]
}

async function oneLogin (url: string, emulator: Emulator, openid: string): Promise<number> {
  const login = await createLogin({ url })
  const socket = await openLoginSocket({ url }, login)
  try {
    const first = await withDeadline(socket.next(), 10_000, 'first status')
    if (first.status !== 'pending') throw new Error(`first status ${String(first.status ?? first.error)}`)
    const pushed = performance.now()
    const confirmed = withDeadline(waitForStatus(socket, 'confirmed'), 20_000, 'confirmation')
    const answer = await emulator.scan(login.ticket, openid)
    if (answer.status !== 200) throw new Error(`the webhook answered ${answer.status}`)
    const { message } = await confirmed
    const latency = performance.now() - pushed
    const redeemed = await exchange({ url }, message.code ?? '')
    if (redeemed.status !== 200) throw new Error(`the code did not redeem: ${redeemed.status}`)
    return latency
  } finally {
    socket.ws.terminate()
  }
}

export async function steadyLogins ({ url, emulator, rate, count, maxInFlight = 50, onLogin }: SteadyLoad): Promise<LoadResult> {
  const result: LoadResult = { completed: 0, failures: [], latenciesMs: [] }
  const openids = emulator.users.map((user) => user.openid)
  const running = new Set<Promise<void>>()
  const started = performance.now()
  for (let index = 0; index < count; index++) {
    // On schedule, unless too many are still running: then as soon as one ends.
    const due = started + (index * 1000) / rate - performance.now()
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
    if (running.size >= maxInFlight) await Promise.race(running)
    const login: Promise<void> = oneLogin(url, emulator, openids[index % openids.length] ?? '')
      .then((latency) => { result.completed++; result.latenciesMs.push(latency) }, (error: unknown) => { result.failures.push((error as Error).message) })
      .finally(() => { running.delete(login); onLogin?.(result.completed, result.failures.length) })
    running.add(login)
  }
  await Promise.all(running)
  result.latenciesMs.sort((a, b) => a - b)
  return result
}
