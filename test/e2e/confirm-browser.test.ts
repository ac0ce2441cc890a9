/**
 * Confirm mode in a real browser, as `LOGIN_REQUIRE_CONFIRM=1 npm run demo` runs it (the emulator in
 * the app): the login page shows "scanned", the emulator's phone shows the Official Account's
 * message with the link, the scanner's WeChat consent and the confirmation page follow; "Deny"
 * turns the login page to denied, "Confirm" logs it in (and, in demo mode, shows the code).
 */
import t, { type Test } from 'tap'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { build, exchange, type TestApp } from '../helper.js'

t.setTimeout(180_000)

const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-features=LocalNetworkAccessChecks']
})
t.teardown(() => browser.close())

async function contextOf (t: Test, options: Parameters<Browser['newContext']>[0]): Promise<{ context: BrowserContext, errors: string[] }> {
  const context = await browser.newContext(options)
  t.teardown(() => context.close())
  const errors: string[] = []
  context.on('weberror', (error) => errors.push(error.error().message))
  context.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  return { context, errors }
}

/** The phone: open the QR's page, scan as the test user at `index`, follow the link, allow, reach the confirmation page. */
async function scanAndOpenLink (t: Test, phone: Page, qrUrl: string, index: number): Promise<void> {
  await phone.goto(qrUrl)
  await phone.getByRole('radio').nth(index).check()
  await phone.getByRole('button', { name: 'Scan' }).click()
  const link = phone.locator('#message-link')
  await link.waitFor()
  t.match(await phone.locator('.bubble').textContent(), /你正在扫码登录网站/, "the Official Account's message, as WeChat shows it")
  await link.click()
  await phone.getByRole('button', { name: /允许 · Allow/ }).click()
  await phone.getByRole('button', { name: /确认登录 · Confirm/ }).waitFor()
}

async function startLogin (page: Page, app: TestApp): Promise<string> {
  await page.goto(`${app.url}/`)
  await page.locator('#login[data-state="pending"] #qr svg').waitFor()
  return await page.locator('#demo-link').getAttribute('href') ?? ''
}

t.test('deny on the phone: the login page says so; confirm: it logs in', async (t) => {
  const app = await build(t, { env: { WECHAT_EMULATOR: '1', LOGIN_REQUIRE_CONFIRM: '1', LOG_LEVEL: 'warn' } })
  const desktop = await contextOf(t, { viewport: { width: 1280, height: 800 }, locale: 'zh-CN' })
  const mobile = await contextOf(t, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'zh-CN' })
  const page = await desktop.context.newPage()
  const phone = await mobile.context.newPage()

  await scanAndOpenLink(t, phone, await startLogin(page, app), 0)
  await page.locator('#login[data-state="scanned"]').waitFor()
  const confirmPage = await phone.content()
  t.match(confirmPage, /网站（自报） · Website \(as it says\)/, 'the phone shows what is being approved')
  t.match(confirmPage, app.url, 'the page that asked: ours')
  await phone.getByRole('button', { name: /拒绝 · Deny/ }).click()
  await phone.getByRole('heading', { name: '已拒绝登录' }).waitFor()
  await page.locator('#login[data-state="denied"]').waitFor()
  await page.getByRole('status').filter({ hasText: 'The login was denied on the phone' }).waitFor()
  t.ok(await page.locator('#result').isHidden(), 'no code')
  await page.getByRole('button', { name: /刷新二维码/ }).click()

  await scanAndOpenLink(t, phone, await startLogin(page, app), 1)
  await phone.getByRole('button', { name: /确认登录 · Confirm/ }).click()
  await phone.getByRole('heading', { name: '已确认登录' }).waitFor()
  await page.locator('#login[data-state="confirmed"]').waitFor()
  const code = (await page.locator('#code').textContent() ?? '').trim()
  t.match(code, /^\S{16,}$/, 'demo mode: the code is on screen')
  t.equal((await exchange(app, code)).status, 200, 'and redeems')
  t.same([...desktop.errors, ...mobile.errors], [], 'no script error, no CSP violation, on either screen')
})
