/**
 * The login page in a real browser (Debian's chromium driven by playwright-core) against the whole
 * service and the standalone WeChat emulator: the QR is drawn, the emulator's phone page scans it,
 * the page shows the code, tells its opener, and the code redeems once. Then the same with
 * WebSockets broken in each way the page must survive.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Browser } from 'playwright-core'
import { build, exchange, freePort, startEmulator, type TestApp, type TestEmulator } from '../helper.js'
import {
  DESKTOP, PHONE, SOCKET_URL, STATUS_PATH, TARGET_CSP, launchBrowser, openContext, probe, scanOnPhone, transport, waitForLoggedIn, waitForQr
} from '../helpers/browser.js'
import { deferred } from '../helpers/wait.js'

const SCREENSHOT_DIR = process.env.E2E_SCREENSHOT_DIR ?? tmpdir()
const { SOCKET_FAILURES_BEFORE_POLLING } = transport
const BLOCK_WEBSOCKET_SCRIPT = `
  Object.defineProperty(window, 'WebSocket', {
    value: class BlockedWebSocket {
      constructor () { throw new DOMException('blocked by the test', 'SecurityError') }
    }
  })
`

// A real browser on a shared CI box: slower than tap's default allows. Every Playwright wait has
// its own 30 s timeout, so a page that hangs still fails at the wait, not here.
t.setTimeout(180_000)

const browser: Browser = await launchBrowser(t)

interface Stack {
  app: TestApp
  emulator: TestEmulator
}

/** `siteAllowed`: whether the embedding site of the popup test (localhost:PORT) is in ALLOWED_ORIGINS. */
async function startStack (t: Test, { siteAllowed = true } = {}): Promise<Stack> {
  const emulator = await startEmulator(t)
  const port = String(await freePort())
  const origins = [`http://127.0.0.1:${port}`, ...(siteAllowed ? [`http://localhost:${port}`] : [])]
  const app = await build(t, { emulator, env: { LOG_LEVEL: 'warn', PORT: port, ALLOWED_ORIGINS: origins.join(',') } })
  return { app, emulator }
}

t.test('a site outside ALLOWED_ORIGINS that opens the page with its own ?origin= is not told the code', async (t) => {
  const stack = await startStack(t, { siteAllowed: false })
  const { context } = await openContext(t, browser, stack.app.url, DESKTOP)
  const phoneContext = await browser.newContext(PHONE)
  t.teardown(() => phoneContext.close())
  const siteOrigin = `http://localhost:${new URL(stack.app.url).port}`
  await context.route(`${siteOrigin}/site`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>phishing</title>' }))
  const site = await context.newPage()
  await site.goto(`${siteOrigin}/site`)
  const [page] = await Promise.all([
    context.waitForEvent('page'),
    site.evaluate(`void window.open(${JSON.stringify(`${stack.app.url}/?origin=${encodeURIComponent(siteOrigin)}`)}, 'wechat-login', 'popup,width=420,height=720')`)
  ])
  const qrUrl = await waitForQr(page)
  await scanOnPhone(t, await phoneContext.newPage(), qrUrl, 0)
  const code = await waitForLoggedIn(page)
  t.same((await probe(page)).loginEvents, [{ code }], 'the page itself logged in')
  await page.locator('[data-opener]').waitFor()
  t.equal(await page.locator('[data-opener]').getAttribute('data-opener'), 'not-told', 'and decided not to tell its opener')
  t.ok(await page.locator('#close-hint').isHidden(), 'nor claims to have')
  t.same((await probe(site)).openerMessages, [], 'the site that named itself in ?origin= got nothing')
})

t.test('framed by a site on ALLOWED_ORIGINS, the page posts the code to its parent; framed by another, to nobody', async (t) => {
  const stack = await startStack(t)
  const { context } = await openContext(t, browser, stack.app.url, DESKTOP)
  const phoneContext = await browser.newContext(PHONE)
  t.teardown(() => phoneContext.close())
  const port = new URL(stack.app.url).port
  const siteOrigin = `http://localhost:${port}`
  const framed = (origin: string) => `<!doctype html><title>site</title><iframe id="login" src="${stack.app.url}/?origin=${encodeURIComponent(origin)}" width="420" height="640"></iframe>
<script>window.fromFrame = []; window.addEventListener('message', (event) => {
  window.fromFrame.push({ data: event.data, origin: event.origin, fromTheFrame: event.source === document.getElementById('login').contentWindow })
})</script>`
  await context.route(`${siteOrigin}/site`, (route) => route.fulfill({ contentType: 'text/html', body: framed(siteOrigin) }))
  const site = await context.newPage()
  await site.goto(`${siteOrigin}/site`)
  const frame = site.frameLocator('#login')
  await frame.locator('#login[data-state="pending"] #qr svg').waitFor()
  const qrUrl = await frame.locator('#demo-link').getAttribute('href') ?? ''
  await scanOnPhone(t, await phoneContext.newPage(), qrUrl, 0)
  await frame.locator('#login[data-state="confirmed"]').waitFor()
  await site.waitForFunction('window.fromFrame.length > 0')
  const [message] = await site.evaluate('window.fromFrame') as Array<{ data: { type: string, code: string }, origin: string, fromTheFrame: boolean }>
  t.match(message, { data: { type: 'wechat-login' }, origin: stack.app.url, fromTheFrame: true }, 'the parent got the code from the frame it embeds, from our origin')
  t.equal(await frame.locator('#login').getAttribute('data-opener'), 'told')
  t.ok(await frame.locator('#result').isHidden(), 'the code is not on screen')
  t.equal((await exchange(stack.app, message?.data.code ?? '')).status, 200, 'and it redeems')

  // A page of a site not on ALLOWED_ORIGINS frames the login. The browser refuses that frame
  // (frame-ancestors); the route below serves it without the policy, to hold the page's own check.
  const phishing = `http://127.0.0.2:${port}`
  await context.route(`${phishing}/site`, (route) => route.fulfill({ contentType: 'text/html', body: framed(phishing) }))
  await context.route((url) => url.origin === stack.app.url && url.pathname === '/', async (route) => {
    const response = await route.fetch()
    const headers = { ...response.headers() }
    delete headers['content-security-policy']
    delete headers['x-frame-options']
    await route.fulfill({ response, headers: { ...headers, 'content-security-policy': TARGET_CSP } })
  })
  const evil = await context.newPage()
  await evil.goto(`${phishing}/site`)
  const evilFrame = evil.frameLocator('#login')
  await evilFrame.locator('#login[data-state="pending"] #qr svg').waitFor()
  await scanOnPhone(t, await phoneContext.newPage(), await evilFrame.locator('#demo-link').getAttribute('href') ?? '', 1)
  await evilFrame.locator('#login[data-opener="not-told"]').waitFor()
  t.same(await evil.evaluate('window.fromFrame'), [], 'a site that named itself in ?origin= got nothing')
})

t.test('scan on the phone page: the page tells its opener the code (never shows it), and the code redeems once', async (t) => {
  const stack = await startStack(t)
  const { context, pageErrors } = await openContext(t, browser, stack.app.url, DESKTOP)
  const phoneContext = await browser.newContext(PHONE)
  t.teardown(() => phoneContext.close())

  // The embedding site on another origin (localhost vs 127.0.0.1) opens the login page as a popup.
  const port = new URL(stack.app.url).port
  const siteOrigin = `http://localhost:${port}`
  await context.route(`${siteOrigin}/site`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>site</title>' }))
  const site = await context.newPage()
  await site.goto(`${siteOrigin}/site`)
  const urls: string[] = []
  context.on('request', (request) => urls.push(request.url()))
  context.on('page', (opened) => opened.on('websocket', (socket) => urls.push(socket.url())))
  const [page, created] = await Promise.all([
    context.waitForEvent('page'),
    context.waitForEvent('response', (response) => response.url() === `${stack.app.url}/api/login/qr`),
    site.evaluate(`void window.open(${JSON.stringify(`${stack.app.url}/?origin=${encodeURIComponent(siteOrigin)}`)}, 'wechat-login', 'popup,width=420,height=720')`)
  ])
  const login = await created.json() as { secret: string, qrUrl: string }

  const qrUrl = await waitForQr(page)
  t.equal(qrUrl, login.qrUrl, 'the demo link under the QR is the login\'s qrUrl')
  t.match(new URL(qrUrl).pathname, /\/_emulator\/scan$/, 'which is the emulator phone page')
  t.notMatch(page.url(), /secret|ticket|scene/, 'nothing about the login is in the page URL')
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'login-page-popup.png') })

  const openid = await scanOnPhone(t, await phoneContext.newPage(), qrUrl, 1)
  const code = await waitForLoggedIn(page)
  t.match(code, /^\S{16,}$/, 'the page has the login code, and keeps it off the screen')

  const inPage = await probe(page)
  t.same(inPage.loginEvents, [{ code }], "the page dispatched one 'wechat-login' event with the code")
  t.same(inPage.cspViolations, [], 'nothing broke the content security policy')
  await site.waitForFunction('window.__probe.openerMessages.length > 0')
  t.same((await probe(site)).openerMessages, [{ data: { type: 'wechat-login', code }, origin: stack.app.url }],
    'the opener got the code, addressed to the ?origin= it asked for')
  t.same(pageErrors, [], 'no script error')
  t.ok(urls.some((url) => url.endsWith('/api/login/ws')), 'the page used the socket')
  t.notOk(urls.some((url) => url.includes(login.secret) || url.includes(encodeURIComponent(login.secret))), 'the browser secret was in no URL')

  const first = await exchange(stack.app, code)
  t.equal(first.status, 200, 'the code redeems')
  t.equal(first.body.openid, openid, 'as the user who scanned')
  const second = await exchange(stack.app, code)
  t.same(second, { status: 400, body: { error: 'invalid_grant' } }, 'once')
})

for (const [screen, options, file] of [['a phone', PHONE, 'login-page.png'], ['a desktop', DESKTOP, 'login-page-desktop.png']] as const) {
  t.test(`on ${screen} screen the pending page fits: QR in view, no sideways scrolling`, async (t) => {
    const stack = await startStack(t)
    const { context, pageErrors } = await openContext(t, browser, stack.app.url, options)
    const page = await context.newPage()
    await page.goto(`${stack.app.url}/`)
    await waitForQr(page)
    await page.screenshot({ path: join(SCREENSHOT_DIR, file) })

    const viewport = options.viewport ?? { width: 0, height: 0 }
    const box = await page.locator('#qr svg').boundingBox()
    t.ok(box !== null && box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height,
      'the whole QR is on screen')
    t.ok(box !== null && box.width >= 180, 'and big enough to scan')
    t.equal(await page.evaluate('document.documentElement.scrollWidth'), viewport.width, 'no horizontal overflow')
    t.same((await probe(page)).cspViolations, [], 'nothing broke the content security policy')
    t.same(pageErrors, [], 'no script error')
  })
}

t.test('WebSocket cannot even be constructed: the page polls /api/login/status and still logs in', async (t) => {
  const stack = await startStack(t)
  const { context, pageErrors } = await openContext(t, browser, stack.app.url, PHONE)
  await context.addInitScript({ content: BLOCK_WEBSOCKET_SCRIPT })
  const page = await context.newPage()
  const polls: string[] = []
  page.on('request', (request) => {
    if (STATUS_PATH.test(request.url())) polls.push(request.url())
  })
  await page.goto(`${stack.app.url}/`)
  const qrUrl = await waitForQr(page)
  await page.waitForRequest(STATUS_PATH)

  await scanOnPhone(t, await context.newPage(), qrUrl)
  const code = await waitForLoggedIn(page)
  t.ok(polls.length >= 1, 'the state came from polling')
  t.notOk(polls.some((url) => /secret/i.test(url)), 'the secret is not in the polled URL')
  t.equal((await exchange(stack.app, code)).status, 200, 'the polled code redeems')

  const withoutSecret = await fetch(polls[0] ?? '')
  t.equal(withoutSecret.status, 404, 'the polled URL alone, without the secret header, reveals nothing')
  t.same(pageErrors, [])
})

t.test('sockets that close before saying anything: after a few tries the page polls instead', async (t) => {
  const stack = await startStack(t)
  const { context, pageErrors } = await openContext(t, browser, stack.app.url, PHONE)
  const page = await context.newPage()
  let sockets = 0
  await page.routeWebSocket(SOCKET_URL, (socket) => {
    sockets += 1
    socket.close({ code: 1011, reason: 'refused by the test' })
  })
  await page.goto(`${stack.app.url}/`)
  const qrUrl = await waitForQr(page)
  await page.waitForRequest(STATUS_PATH)
  const socketsBeforePolling = sockets
  t.equal(socketsBeforePolling, SOCKET_FAILURES_BEFORE_POLLING, `the page tried the socket ${SOCKET_FAILURES_BEFORE_POLLING} times before polling`)

  await scanOnPhone(t, await context.newPage(), qrUrl)
  const code = await waitForLoggedIn(page)
  t.equal(sockets, socketsBeforePolling, 'no more sockets once polling')
  t.equal((await exchange(stack.app, code)).status, 200)
  t.same(pageErrors, [])
})

t.test('the socket drops before the confirmation: the page reconnects and the resubscribe brings it', async (t) => {
  const stack = await startStack(t)
  const { context, pageErrors } = await openContext(t, browser, stack.app.url, PHONE)
  const page = await context.newPage()
  let sockets = 0
  const swallowed: string[] = []
  const pendingShown = deferred()
  await page.routeWebSocket(SOCKET_URL, (socket) => {
    sockets += 1
    const server = socket.connectToServer()
    if (sockets > 1) return
    // The first socket shows the page only the server's first message; every later push (scanned,
    // confirmed) is lost, as on a flaky network; the server's close then reaches the page.
    let forwarded = 0
    server.onMessage((message) => {
      if (forwarded++ === 0) {
        socket.send(message)
        pendingShown.resolve()
      } else {
        swallowed.push(String(message))
      }
    })
  })
  const polls: string[] = []
  page.on('request', (request) => {
    if (STATUS_PATH.test(request.url())) polls.push(request.url())
  })
  await page.goto(`${stack.app.url}/`)
  const qrUrl = await waitForQr(page)
  await pendingShown.promise // so the scan's pushes go to the first socket

  await scanOnPhone(t, await context.newPage(), qrUrl)
  const code = await waitForLoggedIn(page)
  t.ok(swallowed.some((message) => message.includes('"confirmed"')), 'the first socket carried the confirmation, and the page never saw it')
  t.equal(sockets, 2, 'the page opened a second socket')
  t.same(polls, [], 'and did not need to poll')
  t.equal((await exchange(stack.app, code)).status, 200)
  t.same(pageErrors, [])
})

t.test('WeChat refuses the QR (errcode): the page says so, and "try again" gets a QR', async (t) => {
  const stack = await startStack(t)
  stack.emulator.emulator.faults.errcode('qrcode/create', 45009, 1)
  const { context, pageErrors } = await openContext(t, browser, stack.app.url, PHONE)
  const page = await context.newPage()
  await page.goto(`${stack.app.url}/`)
  await page.locator('#login[data-state="error"]').waitFor()
  await page.getByRole('status').filter({ hasText: '45009' }).waitFor()
  await page.getByRole('button', { name: /Try again/ }).click()
  await waitForQr(page)
  t.pass('a retry after the WeChat error shows a QR')
  t.same(pageErrors, [])
})
