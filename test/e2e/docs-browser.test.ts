/**
 * /docs in a real browser (Debian's chromium, playwright-core) under the CSP the service sends:
 * Swagger UI draws every operation of the document, and the browser reports no violation.
 */
import t from 'tap'
import { chromium, type Browser } from 'playwright-core'
import { build } from '../helper.js'

t.setTimeout(120_000)

const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']
})
t.teardown(() => browser.close())

// Recorded before any of the page's scripts run.
const PROBE_SCRIPT = `(() => {
  window.__cspViolations = []
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__cspViolations.push(event.violatedDirective + ' ' + event.blockedURI)
  })
})()`

t.test('Swagger UI renders every operation under the app\'s CSP, without a violation', async (t) => {
  const app = await build(t, { driver: 'embedded', env: { LOG_LEVEL: 'warn' } })
  const document = await (await fetch(`${app.url}/docs/json`)).json() as { paths: Record<string, Record<string, unknown>> }
  const operations = Object.values(document.paths).reduce((count, methods) => count + Object.keys(methods).length, 0)

  const context = await browser.newContext()
  t.after(() => context.close())
  const page = await context.newPage()
  await page.addInitScript(PROBE_SCRIPT)
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })

  const response = await page.goto(`${app.url}/docs`)
  t.match(response?.headers()['content-security-policy'] ?? '', "script-src 'self'", 'the page came with the app\'s CSP')
  const blocks = page.locator('.opblock')
  await blocks.nth(operations - 1).waitFor({ timeout: 30_000 })
  t.equal(await blocks.count(), operations, `the ${operations} operations are drawn`)
  // Opened, an operation draws its parameters, responses and their schemas (and the highlighted examples).
  await page.locator('.opblock-summary', { hasText: '/api/login/exchange' }).click()
  await page.locator('.opblock-body .responses-table').first().waitFor({ timeout: 30_000 })
  await page.locator('.opblock-body button.try-out__btn').first().click()
  await page.locator('.opblock-body .execute').first().waitFor({ timeout: 30_000 })
  t.same(await page.evaluate('window.__cspViolations'), [], 'no CSP violation')
  t.same(errors, [], 'no script error')
})
