/**
 * A deploy: three instances (real processes, each with its worker) behind a load balancer share one
 * Redis, and each is stopped with SIGTERM and started again in turn while visitors keep logging in.
 * A stopping instance closes its sockets with 1001, so pages reconnect through the balancer to
 * another one and get their state there; requests it has already received are served; its worker
 * finishes its jobs. No visitor who scanned fails to log in.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { WebSocket } from 'ws'
import { PushFailed, type PushResult } from '../../src/emulator/push.js'
import type { CreatedLogin, StatusMessage } from '../../src/wire/login.js'
import { TEST_WECHAT, freePort, startEmulator, type TestEmulator } from '../helper.js'
import { startBalancer, type Balancer } from '../helpers/balancer.js'
import { startService, withMessage, type ServiceProcess } from '../helpers/processes.js'
import { cleanupKeys, redisUrl, uniquePrefix } from '../helpers/redis.js'
import { waitFor, withDeadline } from '../helpers/wait.js'

t.setTimeout(120_000)

const VISITORS = 4
/** WeChat re-sends a push it got no answer to, three times. */
const WECHAT_RETRIES = 3

/** A request on a connection of its own, as a new visitor's would be: the balancer picks a live instance. */
function send (url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const outgoing = request(url, { method, agent: false, headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) } }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text === '' ? null : JSON.parse(text) }))
      response.on('error', reject)
    })
    outgoing.on('error', reject)
    outgoing.end(payload)
  })
}

interface Followed {
  /** The first status, once a socket has delivered one. */
  first: Promise<StatusMessage>
  confirmed: Promise<StatusMessage>
  /** Close codes of every socket this page had, in order. */
  closeCodes: number[]
}

/**
 * What the page's transport does, reduced to what a deploy tests: a socket that closes before a
 * final status is opened again (through the balancer) and subscribes again. `firstBase` pins the
 * first socket to one instance.
 */
function followLogin (balancer: Balancer, login: CreatedLogin, firstBase = balancer.url): Followed {
  const closeCodes: number[] = []
  let settle!: { first: (message: StatusMessage) => void, confirmed: (message: StatusMessage) => void, fail: (error: Error) => void }
  const first = new Promise<StatusMessage>((resolve, reject) => { settle = { first: resolve, confirmed: () => {}, fail: reject } })
  const confirmed = new Promise<StatusMessage>((resolve, reject) => {
    const failFirst = settle.fail
    settle = { first: settle.first, confirmed: resolve, fail: (error) => { failFirst(error); reject(error) } }
  })
  confirmed.catch(() => {})
  let done = false

  function connect (base: string): void {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/login/ws`)
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', scene: login.scene, secret: login.secret })))
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as StatusMessage & { error?: string }
      if (message.type !== 'status') return
      settle.first(message)
      if (message.status === 'confirmed') { done = true; settle.confirmed(message) }
      if (message.status === 'expired') { done = true; settle.fail(new Error('the login expired')) }
    })
    ws.on('error', () => {})
    ws.on('close', (code) => {
      closeCodes.push(code)
      if (done) return
      if (code === 4404) { done = true; settle.fail(new Error('the login is gone (4404)')); return }
      // The page's backoff, shortened: a test need not wait as long as a crowd should.
      setTimeout(() => connect(balancer.url), 50 + Math.random() * 100)
    })
  }
  connect(firstBase)
  return { first, confirmed, closeCodes }
}

/** A scan as WeChat delivers it: pushed, and pushed again (up to three times) when left unanswered. */
async function scanLikeWeChat (emulator: TestEmulator, ticket: string, openid: string): Promise<PushResult> {
  let attempt: Promise<PushResult> = emulator.emulator.scan(ticket, openid)
  for (let retry = 0; ; retry++) {
    try {
      return await attempt
    } catch (error) {
      if (!(error instanceof PushFailed) || retry === WECHAT_RETRIES) throw error
      attempt = emulator.emulator.replay(error.push)
    }
  }
}

t.test('three instances rolled one by one under a steady stream of logins: none fails', async (t) => {
  const prefix = uniquePrefix('deploy')
  cleanupKeys(t, prefix)
  const emulator = await startEmulator(t)
  // Jobs take a little while, so that some are running when their instance is stopped.
  emulator.emulator.faults.latency('user/info', 150)
  const ports = [await freePort(), await freePort(), await freePort()]
  const balancer = await startBalancer(t, ports)
  emulator.pushTo(balancer)
  const spool = await mkdtemp(join(tmpdir(), 'wql-deploy-'))
  t.after(() => rm(spool, { recursive: true, force: true }))
  const envFor = (port: number): Record<string, string> => ({
    ...TEST_WECHAT,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: balancer.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    WECHAT_API_BASE: emulator.url,
    WECHAT_MP_BASE: emulator.url,
    SPOOL_DIR: join(spool, String(port)),
    RATE_LIMIT_QR_PER_IP: '0',
    RATE_LIMIT_QR_GLOBAL: '0',
    // Every visitor comes from this machine: one IP, many sockets.
    RATE_LIMIT_SOCKET_PER_IP: '0',
    SOCKET_LIMIT_PER_IP: '0',
    LOG_LEVEL: 'info'
  })
  const instances: ServiceProcess[] = await Promise.all(ports.map((port) => startService(t, 'server', envFor(port))))

  let stopping = false
  let completed = 0
  const failures: string[] = []
  const closeCodes: number[] = []
  const users = emulator.emulator.users
  async function visitor (index: number): Promise<void> {
    // eslint-disable-next-line no-unmodified-loop-condition -- set by the test once the roll is done
    for (let visit = 0; !stopping; visit++) {
      try {
        const created = await send(`${balancer.url}/api/login/qr`, 'POST')
        if (created.status !== 201) throw new Error(`POST /api/login/qr answered ${created.status}`)
        const login = created.body as CreatedLogin
        const page = followLogin(balancer, login)
        await withDeadline(page.first, 10_000, 'first status')
        const user = users[(index + visit) % users.length]
        const pushed = await scanLikeWeChat(emulator, login.ticket, user?.openid ?? '')
        if (pushed.status !== 200) throw new Error(`the webhook answered ${pushed.status}: WeChat would not send the scan again`)
        const confirmed = await withDeadline(page.confirmed, 20_000, 'confirmation')
        const redeemed = await send(`${balancer.url}/api/login/exchange`, 'POST', { code: confirmed.code }, { authorization: `Bearer ${TEST_WECHAT.API_KEY}` })
        if (redeemed.status !== 200) throw new Error(`the code did not redeem: ${redeemed.status}`)
        closeCodes.push(...page.closeCodes)
        completed++
      } catch (error) {
        failures.push((error as Error).message)
      }
    }
  }
  const visitors = Promise.all(Array.from({ length: VISITORS }, (_, index) => visitor(index)))

  const rolled: string[] = []
  for (const [index, port] of ports.entries()) {
    // Under load: some logins completed since the last roll.
    const before = completed
    await waitFor(() => completed >= before + VISITORS || failures.length > 0, { timeoutMs: 30_000, what: 'logins to go on' })
    // Whether a visitor's socket happens to be on this instance when it stops is chance; this page's
    // socket surely is, so every roll moves at least one page.
    const created = await send(`${balancer.url}/api/login/qr`, 'POST')
    t.equal(created.status, 201, 'a login for the page on the instance to stop')
    const pinnedLogin = created.body as CreatedLogin
    const pinned = followLogin(balancer, pinnedLogin, `http://127.0.0.1:${port}`)
    await withDeadline(pinned.first, 10_000, 'first status of the page on the instance to stop')
    const old = instances[index] as ServiceProcess
    const exit = await old.stop('SIGTERM')
    t.same(exit, { code: 0, signal: null }, `instance on ${port} stopped cleanly`)
    await old.waitForLog(withMessage('shutting down'))
    rolled.push(`${port}: ${old.logs.filter(withMessage('login confirmed')).length} logins confirmed by its worker`)
    instances[index] = await startService(t, 'server', envFor(port))
    const pushed = await scanLikeWeChat(emulator, pinnedLogin.ticket, users[index]?.openid ?? '')
    t.equal(pushed.status, 200, `the page on ${port} scanned after the stop`)
    await withDeadline(pinned.confirmed, 20_000, 'confirmation of the page moved off the stopped instance')
    t.equal(pinned.closeCodes[0], 1001, `the page on ${port} was moved by 1001 and still logged in`)
  }
  const after = completed
  await waitFor(() => completed >= after + VISITORS || failures.length > 0, { timeoutMs: 30_000, what: 'logins after the last roll' })
  stopping = true
  await visitors

  t.same(failures, [], 'no failed login')
  t.ok(completed >= 4 * VISITORS, `${completed} logins completed during the roll`)
  t.comment(`visitors' pages moved by 1001: ${closeCodes.filter((code) => code === 1001).length}`)
  t.comment(rolled.join('; '))
  t.comment(`connections per instance: ${[...balancer.connections.entries()].map(([port, count]) => `${port}: ${count}`).join(', ')}`)
})
