/**
 * Broken networks between browser and service, in real Chromium: every way a WebSocket can fail,
 * and a laptop that sleeps and wakes. The page loads through a proxy that breaks handshakes or
 * freezes connections (test/helpers/flaky-front.ts); Playwright's clock makes the page's timers
 * jump as after a sleep, or reach a deadline without the test waiting it out. In every case the
 * page ends logged in (or, past the QR's life, says so), never on a spinner or a stale QR.
 */
import t, { type Test } from 'tap'
import type { Browser, Page } from 'playwright-core'
import { build, exchange, freePort, startEmulator, type TestApp, type TestEmulator } from '../helper.js'
import { PHONE, SOCKET_URL, STATUS_PATH, launchBrowser, openContext, transport, waitForLoggedIn, waitForQr } from '../helpers/browser.js'
import { startFlakyFront, type FlakyFront } from '../helpers/flaky-front.js'
import { deferred, waitFor, withDeadline } from '../helpers/wait.js'

t.setTimeout(180_000)
const browser: Browser = await launchBrowser(t)
const { SOCKET_FAILURES_BEFORE_POLLING, CONNECT_TIMEOUT_MS, FIRST_STATUS_TIMEOUT_MS, QUIET_TIMEOUT_MS } = transport

interface Stack {
  app: TestApp
  emulator: TestEmulator
  front: FlakyFront
}

async function startStack (t: Test, env: Record<string, string> = {}): Promise<Stack> {
  const emulator = await startEmulator(t)
  const port = await freePort()
  const front = await startFlakyFront(t, port)
  const app = await build(t, { emulator, env: { LOG_LEVEL: 'warn', PORT: String(port), ALLOWED_ORIGINS: front.url, ...env } })
  return { app, emulator, front }
}

/** The page, loaded through the flaky front; `clock`: Playwright's, installed before any page script. */
async function openPage (t: Test, stack: Stack, { clock = false } = {}): Promise<{ page: Page, pageErrors: string[], polls: string[] }> {
  const { context, pageErrors } = await openContext(t, browser, stack.front.url, PHONE)
  const page = await context.newPage()
  if (clock) await page.clock.install()
  const polls: string[] = []
  page.on('request', (request) => { if (STATUS_PATH.test(request.url())) polls.push(request.url()) })
  await page.goto(`${stack.front.url}/`)
  return { page, pageErrors, polls }
}

/** The emulator's phone scans the QR the page shows: no phone page needed, the QR carries the ticket. */
async function scan (stack: Stack, qrUrl: string): Promise<void> {
  const ticket = new URL(qrUrl).searchParams.get('ticket') ?? ''
  const result = await stack.emulator.emulator.scan(ticket, stack.emulator.emulator.users[0]?.openid ?? '')
  if (result.status !== 200) throw new Error(`the webhook answered ${result.status}`)
}

async function loggedIn (t: Test, stack: Stack, page: Page): Promise<void> {
  const code = await waitForLoggedIn(page)
  t.equal((await exchange(stack.app, code)).status, 200, 'logged in: the page\'s code redeems')
}

t.test('handshakes reset by the network: the page tries again and logs in over a socket', async (t) => {
  const stack = await startStack(t)
  stack.front.plan('reset', 'reset')
  const { page, pageErrors, polls } = await openPage(t, stack)
  const qrUrl = await waitForQr(page)
  await scan(stack, qrUrl)
  await loggedIn(t, stack, page)
  t.same(stack.front.handshakes, ['reset', 'reset', 'pass'], 'two refused, the third carried the login')
  t.same(polls, [], 'no need to poll')
  t.same(pageErrors, [])
})

t.test('a handshake that never completes: at its deadline the page opens another socket', async (t) => {
  const stack = await startStack(t)
  stack.front.plan('stall')
  const { page, pageErrors, polls } = await openPage(t, stack, { clock: true })
  const qrUrl = await waitForQr(page)
  await stack.front.handshake(1)
  await page.clock.fastForward(CONNECT_TIMEOUT_MS)
  await stack.front.handshake(2)
  await scan(stack, qrUrl)
  await loggedIn(t, stack, page)
  t.same(stack.front.handshakes, ['stall', 'pass'])
  t.same(polls, [])
  t.same(pageErrors, [])
})

t.test('a socket that opens and never says anything: at its deadline the page opens another', async (t) => {
  const stack = await startStack(t)
  let sockets = 0
  const silentOpened = deferred()
  const { context } = await openContext(t, browser, stack.front.url, PHONE)
  const page = await context.newPage()
  await page.clock.install()
  await page.routeWebSocket(SOCKET_URL, (socket) => {
    sockets += 1
    if (sockets === 1) {
      // Accepted, and silent: no status, no close.
      silentOpened.resolve()
      return
    }
    socket.connectToServer()
  })
  await page.goto(`${stack.front.url}/`)
  const qrShown = waitForQr(page).catch(() => '')
  await withDeadline(silentOpened.promise, 15_000, 'first socket')
  await page.clock.fastForward(FIRST_STATUS_TIMEOUT_MS)
  const qrUrl = await qrShown
  await scan(stack, qrUrl)
  await loggedIn(t, stack, page)
  t.equal(sockets, 2, 'the silent socket was replaced by one that worked')
})

t.test(`every handshake hangs: after ${SOCKET_FAILURES_BEFORE_POLLING} deadlines the page polls, and logs in by polling`, async (t) => {
  const stack = await startStack(t)
  stack.front.plan(...Array.from({ length: SOCKET_FAILURES_BEFORE_POLLING }, () => 'stall' as const))
  const { page, pageErrors, polls } = await openPage(t, stack, { clock: true })
  const qrUrl = await waitForQr(page)
  for (let n = 1; n <= SOCKET_FAILURES_BEFORE_POLLING; n++) {
    await stack.front.handshake(n)
    // The deadline, then the backoff before the next socket (at most 10 s).
    await page.clock.fastForward(CONNECT_TIMEOUT_MS)
    if (n < SOCKET_FAILURES_BEFORE_POLLING) await page.clock.fastForward(10_000)
  }
  await page.waitForRequest(STATUS_PATH)
  await scan(stack, qrUrl)
  // Polling runs on the page's timers: keep them going.
  const ticking = setInterval(() => { page.clock.runFor(2000).catch(() => {}) }, 100)
  t.teardown(() => clearInterval(ticking))
  await loggedIn(t, stack, page)
  clearInterval(ticking)
  t.equal(stack.front.handshakes.length, SOCKET_FAILURES_BEFORE_POLLING, 'no socket after it gave up on them')
  t.ok(polls.length >= 1, 'logged in by polling')
  t.same(pageErrors, [])
})

t.test('the laptop sleeps: its socket dies silently and the login completes meanwhile; on waking the page looks again', async (t) => {
  const stack = await startStack(t)
  const { page, pageErrors } = await openPage(t, stack, { clock: true })
  const qrUrl = await waitForQr(page)
  await stack.front.handshake(1)
  // Asleep: nothing moves on the open connections, in either direction; no close arrives.
  stack.front.freeze()
  await scan(stack, qrUrl)
  // Awake: the page's timers jump 30 s at once (less than its quiet deadline: the jump is what it notices).
  await page.clock.fastForward(30_000)
  await loggedIn(t, stack, page)
  t.equal(stack.front.handshakes.length, 2, 'a new socket after waking')
  t.ok(QUIET_TIMEOUT_MS > 30_000)
  t.same(pageErrors, [])
})

t.test('offline then online: the page drops its socket, which may be dead, and looks again', async (t) => {
  const stack = await startStack(t)
  const { page, pageErrors } = await openPage(t, stack)
  const qrUrl = await waitForQr(page)
  await stack.front.handshake(1)
  stack.front.freeze()
  await page.context().setOffline(true)
  await scan(stack, qrUrl)
  await page.context().setOffline(false)
  await loggedIn(t, stack, page)
  t.ok(stack.front.handshakes.length >= 2, 'a new socket once back online')
  t.same(pageErrors, [])
})

t.test('a socket that goes silent without a jump or an event is replaced after the quiet deadline', async (t) => {
  const stack = await startStack(t)
  const { page, pageErrors } = await openPage(t, stack, { clock: true })
  const qrUrl = await waitForQr(page)
  await stack.front.handshake(1)
  stack.front.freeze()
  await scan(stack, qrUrl)
  // Time passes evenly (every timer on time): only the quiet deadline can tell the socket is dead.
  await page.clock.runFor(QUIET_TIMEOUT_MS)
  // Then time flows again: the replacement socket's own (backed-off) open is a timer too, and a
  // paused clock would never fire it.
  await page.clock.resume()
  await loggedIn(t, stack, page)
  t.equal(stack.front.handshakes.length, 2)
  t.same(pageErrors, [])
})

t.test('asleep past the QR\'s life with its socket dead: on waking the page shows "expired", not a stale QR', async (t) => {
  const stack = await startStack(t, { LOGIN_TTL_SECONDS: '2' })
  const { page, pageErrors } = await openPage(t, stack, { clock: true })
  const qrUrl = await waitForQr(page)
  await stack.front.handshake(1)
  stack.front.freeze()
  const ticket = new URL(qrUrl).searchParams.get('ticket') ?? ''
  // The login's real lifetime ends (the server's "expired" push is lost on the frozen socket).
  await waitFor(() => stack.emulator.emulator.findQrCode(ticket)?.expired === true, { timeoutMs: 10_000, intervalMs: 100, what: 'the QR to expire' })
  await page.clock.fastForward(30_000)
  await page.locator('#login[data-state="expired"]').waitFor()
  await page.getByRole('button', { name: /Refresh|刷新/ }).waitFor()
  t.equal(await page.locator('#countdown').isHidden(), true, 'no countdown left on a dead QR')
  t.same(pageErrors, [])
})
