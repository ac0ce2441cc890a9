/**
 * The emulator's phone pages and the OAuth pages a phone shows, in a real browser on a 375 px wide
 * screen (an iPhone SE or mini): nothing wider than the screen, every badge and button inside it.
 */
import t from 'tap'
import { chromium, type Browser } from 'playwright-core'
import { createLogin } from '../helper.js'
import { authorizeUrl, buildOAuthApp } from '../oauth/helper.js'

t.setTimeout(120_000)

const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']
})
t.teardown(() => browser.close())

interface Fit {
  scrollWidth: number
  /** Elements whose right edge is past the screen's. */
  outside: string[]
}

const MEASURE = `(() => {
  const width = document.documentElement.clientWidth
  const outside = [...document.querySelectorAll('body *')]
    .filter((element) => element.getBoundingClientRect().right > width + 0.5)
    .map((element) => element.tagName.toLowerCase() + (element.className ? '.' + element.className : ''))
  return { scrollWidth: document.documentElement.scrollWidth, outside }
})()`

t.test('375 px: the scan page, both consent pages and the OAuth refusal page fit', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'embedded', env: { LOG_LEVEL: 'warn' } })
  const login = await createLogin(app)
  const context = await browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
  t.after(() => context.close())
  const page = await context.newPage()

  const pages: Array<[string, string]> = [
    ['scan page', new URL(login.qrUrl).toString()],
    ['snsapi_userinfo consent', authorizeUrl(app, { flow: 'mp', scope: 'snsapi_userinfo' })],
    ['website QR confirmation', authorizeUrl(app, { flow: 'web' })],
    ['a refusal page', `${app.url}/auth/wechat/callback?state=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef&code=x`]
  ]
  for (const [name, url] of pages) {
    // The authorize route redirects to the emulator's page: the page measured is where the phone lands.
    await page.goto(url)
    const fit = await page.evaluate(MEASURE) as Fit
    t.equal(fit.scrollWidth, 375, `${name}: no horizontal scrolling`)
    t.same(fit.outside, [], `${name}: nothing past the right edge`)
  }
  t.ok(await page.locator('meta[name="wechat-login-error"]').count() === 1, 'the last page was the refusal')
})
