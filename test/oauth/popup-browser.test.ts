/**
 * The website-QR popup in a real browser (Chromium): a site's page opens the authorize URL with
 * display=popup, the emulated WeChat confirms, and our last page, under its hash-only CSP, posts the
 * code to the opener and closes. An opener on another origin than return_to's receives nothing.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import t, { type Test } from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { exchange, freePort } from '../helper.js'
import { buildOAuthApp } from './helper.js'

t.setTimeout(120_000)

const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-features=LocalNetworkAccessChecks']
})
t.teardown(() => browser.close())

/** The site's page: records every message it receives, with its origin. */
const SITE_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>
<script>window.received = []; window.addEventListener('message', (event) => { window.received.push({ data: event.data, origin: event.origin }) })</script>
</head><body>shop</body></html>`

async function startSite (t: Test): Promise<{ port: number, server: Server }> {
  const port = await freePort()
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(SITE_PAGE)
  }).listen(port, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => new Promise((resolve) => server.close(resolve)))
  return { port, server }
}

/** From the site's page: open the popup, confirm as the first test user in it, wait until it closes. */
async function logInThroughPopup (page: Page, authorize: string): Promise<string[]> {
  const violations: string[] = []
  const [popup] = await Promise.all([
    page.context().waitForEvent('page'),
    page.evaluate(`window.open(${JSON.stringify(authorize)}, 'wechat-login', 'width=800,height=460')`)
  ])
  popup.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) violations.push(message.text()) })
  await popup.waitForSelector('button[value="allow"]')
  await Promise.all([popup.waitForEvent('close'), popup.click('button[value="allow"]')])
  return violations
}

t.test('the popup tells its opener on the return_to origin, under its CSP, and closes', async (t) => {
  const site = await startSite(t)
  const siteOrigin = `http://127.0.0.1:${site.port}`
  const app = await buildOAuthApp(t, { driver: 'embedded', env: { ALLOWED_RETURN_ORIGINS: siteOrigin, LOG_LEVEL: 'warn' } })
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  t.after(() => context.close())
  const page = await context.newPage()
  await page.goto(`${siteOrigin}/checkout`)

  const authorize = `${app.url}/auth/wechat/authorize?flow=web&display=popup&return_to=${encodeURIComponent(`${siteOrigin}/checkout`)}`
  const violations = await logInThroughPopup(page, authorize)
  t.same(violations, [], 'no CSP violation: the script ran by its hash')
  await page.waitForFunction('window.received.length > 0')
  const received = await page.evaluate('window.received') as Array<{ data: { type: string, code: string }, origin: string }>
  t.equal(received.length, 1, 'one message')
  t.equal(received[0]?.origin, new URL(app.url).origin, 'from the login service')
  t.equal(received[0]?.data.type, 'wechat-login')
  const redeemed = await exchange(app, received[0]?.data.code ?? '')
  t.equal(redeemed.status, 200)
  t.match(redeemed.body, { flow: 'web', profile: { nickname: /\S/ } })
})

t.test('an opener on another origin than return_to gets no message', async (t) => {
  const site = await startSite(t)
  const allowed = `http://127.0.0.1:${site.port}`
  // The same server under another name: another origin, as a phishing page would be.
  const foreign = `http://localhost:${site.port}`
  const app = await buildOAuthApp(t, { driver: 'embedded', env: { ALLOWED_RETURN_ORIGINS: allowed, LOG_LEVEL: 'warn' } })
  const context = await browser.newContext()
  t.after(() => context.close())
  const page = await context.newPage()
  await page.goto(`${foreign}/phish`)
  // It asks for a return to the real site, the only origin allowed.
  await logInThroughPopup(page, `${app.url}/auth/wechat/authorize?flow=web&display=popup&return_to=${encodeURIComponent(`${allowed}/`)}`)
  // The popup has closed: its script ran, and posting to the allowed origin reached no one here.
  t.same(await page.evaluate('window.received'), [], 'the foreign opener received nothing')
})
