/**
 * The login page in a real browser (Debian's chromium driven by playwright-core): how the e2e tests
 * launch it, watch the page (CSP violations, 'wechat-login' events, messages to the opener) and
 * read its states. The page's own timing constants are read from its modules.
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import { STATIC_ROOT } from '../../plugins/external/static.js'
import type { Test } from 'tap'

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // A document answered by route.fulfill (how the CSP is added below while the server sends none)
  // has no IP address space; Local Network Access checks then treat it as public and block its
  // WebSocket to 127.0.0.1. Everything here is on loopback, so the check tests nothing of ours.
  '--disable-features=LocalNetworkAccessChecks'
]

/** The policy the service will send; the page must work under it (no inline script or style). */
export const TARGET_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:"

export const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' }
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN' }
export const STATUS_PATH = /\/api\/login\/status\?/
export const SOCKET_URL = /\/api\/login\/ws$/

/** The page's transport deadlines, read from its own module. */
export const transport = await import(pathToFileURL(join(STATIC_ROOT, 'js', 'transport.js')).href) as {
  SOCKET_FAILURES_BEFORE_POLLING: number
  CONNECT_TIMEOUT_MS: number
  FIRST_STATUS_TIMEOUT_MS: number
  QUIET_TIMEOUT_MS: number
}

/** Recorded in the page before any of its scripts run. */
export interface PageProbe {
  cspViolations: string[]
  loginEvents: Array<{ code: string }>
  openerMessages: Array<{ data: unknown, origin: string }>
}

// Browser-side scripts are strings: the project compiles without the DOM library.
export const PROBE_SCRIPT = `(() => {
  const probe = { cspViolations: [], loginEvents: [], openerMessages: [] }
  window.__probe = probe
  document.addEventListener('securitypolicyviolation', (event) => {
    probe.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI)
  })
  document.addEventListener('wechat-login', (event) => { probe.loginEvents.push(event.detail) })
  window.addEventListener('message', (event) => { probe.openerMessages.push({ data: event.data, origin: event.origin }) })
})()`

/** Chromium, closed when the scope ends. */
export async function launchBrowser (t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  return browser
}

/**
 * A browser context that records CSP violations, 'wechat-login' events and messages, and page
 * errors; the page at `pageOrigin`/ gets TARGET_CSP unless the service already sends a policy of its own.
 */
export async function openContext (t: Test, browser: Browser, pageOrigin: string, options: BrowserContextOptions): Promise<{ context: BrowserContext, pageErrors: string[] }> {
  const context = await browser.newContext(options)
  t.teardown(() => context.close())
  const pageErrors: string[] = []
  context.on('weberror', (error) => pageErrors.push(error.error().message))
  await context.addInitScript({ content: PROBE_SCRIPT })
  const served = await fetch(`${pageOrigin}/`)
  t.equal(served.status, 200, 'the page is served at /')
  if (served.headers.get('content-security-policy') === null) {
    const pageUrl = (url: URL) => url.origin === pageOrigin && url.pathname === '/'
    await context.route(pageUrl, async (route) => {
      const response = await route.fetch()
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': TARGET_CSP } })
    })
  }
  return { context, pageErrors }
}

export async function probe (page: Page): Promise<PageProbe> {
  return await page.evaluate('window.__probe') as PageProbe
}

/** The pending state with a drawn QR; returns what the QR encodes (the demo link carries it). */
export async function waitForQr (page: Page): Promise<string> {
  await page.locator('#login[data-state="pending"] #qr svg').waitFor()
  await page.getByRole('status').filter({ hasText: 'Scan the QR code with WeChat' }).waitFor()
  const qrUrl = await page.locator('#demo-link').getAttribute('href')
  if (qrUrl === null) throw new Error('no demo link under the QR')
  return qrUrl
}

/** The emulator's phone page: pick the test user at `userIndex`, tap "Scan"; returns the user's openid. */
export async function scanOnPhone (t: Test, phone: Page, qrUrl: string, userIndex = 0): Promise<string> {
  await phone.goto(qrUrl)
  const user = phone.getByRole('radio').nth(userIndex)
  const openid = await user.inputValue()
  await user.check()
  const [pushed] = await Promise.all([
    phone.waitForResponse((response) => response.request().method() === 'POST'),
    phone.getByRole('button', { name: 'Scan' }).click()
  ])
  t.equal(pushed.status(), 200, 'the emulator pushed the scan and the webhook accepted it')
  return openid
}

/** The page logged in: its code, read from the page's own 'wechat-login' event (outside demo mode it is not on screen). */
export async function waitForLoggedIn (page: Page): Promise<string> {
  await page.locator('#login[data-state="confirmed"]').waitFor()
  await page.getByRole('status').filter({ hasText: 'Logged in' }).waitFor()
  await page.waitForFunction('window.__probe.loginEvents.length > 0')
  const [event] = (await probe(page)).loginEvents
  if (await page.locator('#result').isVisible() || (await page.locator('#code').textContent()) !== '') {
    throw new Error('the login code is on screen outside demo mode')
  }
  return event?.code ?? ''
}
