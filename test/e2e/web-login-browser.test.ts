/**
 * The login page's second way in, in a real browser: with an Open Platform website app configured,
 * the page offers "Log in with the WeChat website QR", opens the authorize popup (about 800×460),
 * the emulated WeChat confirms in it, and the page receives the same kind of one-time code as a
 * follow-scan login, shows it and hands it to its own opener.
 */
import t, { type Test } from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { exchange } from '../helper.js'
import { buildOAuthApp } from '../oauth/helper.js'

t.setTimeout(120_000)

const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-features=LocalNetworkAccessChecks']
})
t.teardown(() => browser.close())

async function openLoginPage (t: Test, url: string): Promise<{ page: Page, pageErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' })
  t.after(() => context.close())
  const pageErrors: string[] = []
  context.on('weberror', (error) => pageErrors.push(error.error().message))
  const page = await context.newPage()
  await page.goto(`${url}/`)
  await page.locator('#login[data-state="pending"] #qr svg').waitFor()
  return { page, pageErrors }
}

t.test('the website-QR popup logs the page in with a code that redeems as flow "web"', async (t) => {
  // Unset: return_to may be PUBLIC_URL's origin, the page's own.
  const app = await buildOAuthApp(t, { driver: 'embedded', env: { LOG_LEVEL: 'warn', ALLOWED_RETURN_ORIGINS: '' } })
  const { page, pageErrors } = await openLoginPage(t, app.url)
  const offer = page.getByRole('button', { name: /Log in with the WeChat website QR/ })
  await offer.waitFor()

  const [popup] = await Promise.all([page.waitForEvent('popup'), offer.click()])
  const size = await popup.evaluate('[window.innerWidth, window.innerHeight]') as [number, number]
  t.ok(Math.abs(size[0] - 800) <= 40 && Math.abs(size[1] - 460) <= 120, `the popup is about 800×460 (${size.join('×')})`)
  t.match(popup.url(), /\/connect\/qrconnect\?/, "the popup shows WeChat's website QR page (emulated)")
  await popup.waitForSelector('button[value="allow"]')
  await Promise.all([popup.waitForEvent('close'), popup.click('button[value="allow"]')])

  await page.locator('#login[data-state="confirmed"]').waitFor()
  const code = ((await page.locator('#code').textContent()) ?? '').trim()
  t.match(code, /^[A-Za-z0-9_-]{20,}$/, 'the page shows the one-time code')
  t.equal(await page.locator('#web-login').isVisible(), false, 'once logged in, no other way in is offered')
  const redeemed = await exchange(app, code)
  t.equal(redeemed.status, 200, 'the code redeems on /api/login/exchange')
  t.match(redeemed.body, { flow: 'web', scene: null, profile: { nickname: /\S/ } })
  t.equal((await exchange(app, code)).status, 400, 'once')
  t.same(pageErrors, [], 'no script error on the page')
})

t.test('without an Open Platform app the page offers no website QR', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'embedded', env: { LOG_LEVEL: 'warn', WECHAT_OPEN_APP_ID: '', WECHAT_OPEN_APP_SECRET: '' } })
  const config = await (await fetch(`${app.url}/api/login/config`)).json() as { webLogin: boolean }
  t.equal(config.webLogin, false, 'the service says no website app is configured')
  const { page } = await openLoginPage(t, app.url)
  t.equal(await page.locator('#web-login').isVisible(), false, 'no website-QR offer')
})
