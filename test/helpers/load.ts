/**
 * Logins at a steady rate, each one whole: created, watched over a socket, scanned (WeChat
 * pushes), confirmed, redeemed. For the soak (`npm run soak`), its short version in the suite and
 * the benchmark's scan-to-page figures.
 */
import { performance } from 'node:perf_hooks'
import type { Emulator } from '../../src/emulator/types.js'
import type { CreatedLogin } from '../../src/wire/login.js'
import { createLogin, exchange } from '../helper.js'
import { openLoginSocket, waitForStatus } from './sockets.js'
import { withDeadline } from './wait.js'

/** Who scans, and how the push reaches the webhook. */
export interface Scanner {
  openids: readonly string[]
  /** WeChat's push of `openid`'s scan of `login`; resolves with the webhook's answer. */
  scan (login: CreatedLogin, openid: string): Promise<{ status: number }>
}

/** The emulator's test users scan, and the emulator pushes (to wherever it was told to). */
export function emulatorScanner (emulator: Emulator): Scanner {
  return { openids: emulator.users.map((user) => user.openid), scan: (login, openid) => emulator.scan(login.ticket, openid) }
}

export interface SteadyLoad {
  /** The service (or a balancer in front of it): where logins are created and watched. */
  url: string
  /** Where the page's socket connects, when not `url` (another instance). */
  socketUrl?: string
  scanner: Scanner
  /** Redeem each code (default); the benchmark's inline floor has no exchange. */
  redeem?: boolean
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

async function oneLogin ({ url, socketUrl = url, scanner, redeem = true }: SteadyLoad, openid: string): Promise<number> {
  const login = await createLogin({ url })
  const socket = await openLoginSocket({ url: socketUrl }, login)
  try {
    const first = await withDeadline(socket.next(), 10_000, 'first status')
    if (first.status !== 'pending') throw new Error(`first status ${String(first.status ?? first.error)}`)
    const pushed = performance.now()
    const confirmed = withDeadline(waitForStatus(socket, 'confirmed'), 20_000, 'confirmation')
    // Awaited below, unless the push fails first: then the socket closes, and that is no crash.
    confirmed.catch(() => {})
    const answer = await scanner.scan(login, openid)
    if (answer.status !== 200) throw new Error(`the webhook answered ${answer.status}`)
    const { message } = await confirmed
    const latency = performance.now() - pushed
    if (!redeem) return latency
    const redeemed = await exchange({ url }, message.code ?? '')
    if (redeemed.status !== 200) throw new Error(`the code did not redeem: ${redeemed.status}`)
    return latency
  } finally {
    socket.ws.terminate()
  }
}

/** `rate` Infinity with `maxInFlight` 1: one login after another. */
export async function steadyLogins (load: SteadyLoad): Promise<LoadResult> {
  const { scanner: { openids }, rate, count, maxInFlight = 50, onLogin } = load
  const result: LoadResult = { completed: 0, failures: [], latenciesMs: [] }
  const running = new Set<Promise<void>>()
  const started = performance.now()
  for (let index = 0; index < count; index++) {
    // On schedule, unless too many are still running: then as soon as one ends.
    const due = started + (index * 1000) / rate - performance.now()
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
    if (running.size >= maxInFlight) await Promise.race(running)
    const login: Promise<void> = oneLogin(load, openids[index % openids.length] ?? '')
      .then((latency) => { result.completed++; result.latenciesMs.push(latency) }, (error: unknown) => { result.failures.push((error as Error).message) })
      .finally(() => { running.delete(login); onLogin?.(result.completed, result.failures.length) })
    running.add(login)
  }
  await Promise.all(running)
  result.latenciesMs.sort((a, b) => a - b)
  return result
}
