/**
 * A load generator, in a process of its own (never the measured one's): it plays WeChat (signs
 * each scan and POSTs it to the webhook, the clock started just before) and the page (its socket
 * subscribed, the clock stopped when "confirmed" arrives, or its status polls). The parent asks
 * for one task at a time over IPC; each answers with raw figures, summarised by the parent.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomBytes } from 'node:crypto'
import autocannon from 'autocannon'
import type { CreatedLogin, StatusMessage } from '../../src/wire/login.js'
import { scanXml, signedQuery } from '../fixtures/webhook.js'
import { createLogin } from '../helper.js'
import { steadyLogins, type LoadResult, type Scanner } from '../helpers/load.js'
import { openLoginSocket, type LoginSocket } from '../helpers/sockets.js'
import { withDeadline } from '../helpers/wait.js'
import { summarize } from './stats.js'
import { announce, handleTasks } from './tasks.js'

/** Unique across this process' pushes: one signature, one push (the service's ledger refuses a reused one). */
const noncePrefix = String(process.pid)
let nonces = 0
const nextNonce = () => `${noncePrefix}${nonces++}`

/** CreateTime strictly increasing per user, as the emulator's: two scans in a second are not one retried push. */
const lastCreateTimes = new Map<string, number>()
function createTime (openid: string): string {
  const next = Math.max(Math.floor(Date.now() / 1000), (lastCreateTimes.get(openid) ?? 0) + 1)
  lastCreateTimes.set(openid, next)
  return String(next)
}

/** POSTs a signed push to `webhookUrl`/wechat/webhook, as WeChat does. */
async function push (webhookUrl: string, scene: string, openid: string): Promise<{ status: number }> {
  const response = await fetch(`${webhookUrl}/wechat/webhook?${signedQuery({}, undefined, undefined, nextNonce())}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: scanXml(scene, openid, createTime(openid))
  })
  await response.text()
  return { status: response.status }
}

const signingScanner = (webhookUrl: string, openids: readonly string[]): Scanner =>
  ({ openids, scan: (login, openid) => push(webhookUrl, login.scene, openid) })

export interface LoginsTask {
  /** Where logins are created. */
  url: string
  /** Where the page's socket connects (default `url`). */
  socketUrl?: string
  /** Where WeChat pushes. */
  webhookUrl: string
  openids: string[]
  count: number
  /** Logins started per second; null: one after another. */
  rate: number | null
}

async function logins ({ url, socketUrl, webhookUrl, openids, count, rate }: LoginsTask): Promise<LoadResult> {
  return await steadyLogins({
    url,
    ...(socketUrl === undefined ? {} : { socketUrl }),
    scanner: signingScanner(webhookUrl, openids),
    redeem: false,
    rate: rate ?? Infinity,
    count,
    maxInFlight: rate === null ? 1 : 200
  })
}

export interface PollingTask {
  url: string
  webhookUrl: string
  openids: string[]
  intervalMs: number
  count: number
  concurrency: number
}

async function pollStatus (url: string, login: CreatedLogin): Promise<string> {
  const response = await fetch(`${url}/api/login/status?scene=${login.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })
  if (response.status !== 200) throw new Error(`GET /api/login/status answered ${response.status}`)
  return (await response.json() as StatusMessage).status
}

/**
 * A page that polls every `intervalMs` from the moment it shows the QR; WeChat's push comes at a
 * moment uniformly spread over the first interval. Push to the first poll that says "confirmed".
 */
async function polledLogin ({ url, webhookUrl, intervalMs }: PollingTask, openid: string): Promise<number> {
  const login = await createLogin({ url })
  const shown = performance.now()
  let pushedAt = 0
  const pushed = sleep(Math.random() * intervalMs).then(async () => {
    pushedAt = performance.now()
    const answer = await push(webhookUrl, login.scene, openid)
    if (answer.status !== 200) throw new Error(`the webhook answered ${answer.status}`)
  })
  pushed.catch(() => {})
  for (let poll = 0; poll < 60; poll++) {
    const status = await pollStatus(url, login)
    if (status === 'confirmed') {
      await pushed
      return performance.now() - pushedAt
    }
    const next = shown + (poll + 1) * intervalMs - performance.now()
    if (next > 0) await sleep(next)
  }
  throw new Error('not confirmed after 60 polls')
}

async function polling (task: PollingTask): Promise<LoadResult> {
  const result: LoadResult = { completed: 0, failures: [], latenciesMs: [] }
  let next = 0
  const lane = async () => {
    while (next < task.count) {
      const index = next++
      await polledLogin(task, task.openids[index % task.openids.length] ?? '')
        .then((latency) => { result.completed++; result.latenciesMs.push(latency) }, (error: unknown) => { result.failures.push((error as Error).message) })
    }
  }
  await Promise.all(Array.from({ length: task.concurrency }, lane))
  result.latenciesMs.sort((a, b) => a - b)
  return result
}

export interface HoldTask {
  /** Where each held socket's login is created; null: a bare ws server, which needs none. */
  createUrl: string | null
  socketUrl: string
  count: number
}

/** Sockets held open (idle) until `release`. */
const held: LoginSocket[] = []

/**
 * One held socket, subscribed; with a service, once it has its first status. Thousands of
 * connections opened and closed on loopback recycle ports still in TIME_WAIT on the server's side,
 * and a handshake is now and then reset: such a socket is opened again, as the page would.
 */
async function holdOne (socketUrl: string, login: { scene: string, secret: string }, answers: boolean): Promise<LoginSocket> {
  for (let attempt = 1; ; attempt++) {
    let socket: LoginSocket | undefined
    try {
      socket = await openLoginSocket({ url: socketUrl })
      const opened = socket
      await new Promise<void>((resolve, reject) => opened.ws.send(JSON.stringify({ type: 'subscribe', ...login }), (error) => error == null ? resolve() : reject(error)))
      if (answers) {
        const first = await withDeadline(socket.next(), 30_000, 'first status')
        if (first.status !== 'pending') throw new Error(`a held socket got ${String(first.status ?? first.error)}`)
      }
      return socket
    } catch (error) {
      socket?.ws.terminate()
      if (attempt === 3) throw error
      reopened++
    }
  }
}

/**
 * Opens `count` sockets, `OPENING_AT_ONCE` at a time, each subscribed to a login of its own. A bare
 * server is sent a message of the same shape and answers nothing.
 */
let reopened = 0
async function hold ({ createUrl, socketUrl, count }: HoldTask): Promise<{ held: number, reopened: number }> {
  reopened = 0
  const OPENING_AT_ONCE = 50
  let next = 0
  const lane = async () => {
    while (next < count) {
      next++
      const login = createUrl === null
        ? { scene: randomBytes(24).toString('base64url'), secret: randomBytes(32).toString('base64url') }
        : await createLogin({ url: createUrl })
      held.push(await holdOne(socketUrl, { scene: login.scene, secret: login.secret }, createUrl !== null))
    }
  }
  await Promise.all(Array.from({ length: OPENING_AT_ONCE }, lane))
  return { held: held.length, reopened }
}

async function release (): Promise<{ closed: number }> {
  const sockets = held.splice(0)
  for (const socket of sockets) socket.ws.terminate()
  return { closed: sockets.length }
}

export interface CannonTask {
  kind: 'ingest' | 'qr'
  url: string
  connections: number
  seconds: number
}

export interface CannonResult {
  /** Answered with a 2xx, per second. */
  perSecond: number
  p50: number
  p99: number
  total: number
  non2xx: number
  errors: number
}

/** A scene shaped like ours, a user seen once: every push a new event. */
function ingestRequest (request: autocannon.Request): autocannon.Request {
  const openid = `oBench${nextNonce().padStart(22, '0')}`
  return {
    ...request,
    path: `/wechat/webhook?${signedQuery({}, undefined, undefined, nextNonce())}`,
    body: scanXml(randomBytes(24).toString('base64url'), openid)
  }
}

async function cannon ({ kind, url, connections, seconds }: CannonTask): Promise<CannonResult> {
  const latencies: number[] = []
  const result = await new Promise<autocannon.Result>((resolve, reject) => autocannon({
    url,
    connections,
    duration: seconds,
    requests: kind === 'ingest'
      ? [{ method: 'POST', headers: { 'content-type': 'text/xml' }, setupRequest: ingestRequest }]
      : [{ method: 'POST', path: '/api/login/qr' }]
  }, (error, done) => error == null ? resolve(done) : reject(error))
    // autocannon's own histogram keeps whole milliseconds; the floor answers in less than one.
    .on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => { latencies.push(responseTime) }))
  const { p50, p99 } = summarize(latencies)
  return {
    perSecond: result['2xx'] / result.duration,
    p50,
    p99,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors
  }
}

handleTasks({ logins, polling, hold, release, cannon })
announce()
