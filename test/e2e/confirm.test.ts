/**
 * Confirm on the phone (LOGIN_REQUIRE_CONFIRM=1) against QR login hijacking (QRLJacking): a scan
 * only shows "scanned"; the scanner's phone gets a link (the passive reply to the scan) to a page
 * that WeChat's OAuth shows to the scanner alone, saying who asked for the login; "Confirm" issues
 * the code, "Deny" ends the login. Real app, real Redis, the standalone WeChat emulator.
 */
import t, { type Test } from 'tap'
import type { PhoneMessage } from '../../src/emulator/reply.js'
import type { PushResult } from '../../src/emulator/push.js'
import { startModeEmulator, TEST_ENCODING_AES_KEY } from '../fixtures/webhook.js'
import { DRIVERS, build, exchange, startEmulator, type Driver, type TestApp, type TestEmulator } from '../helper.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { Browser, TEST_TOKEN_ENC_KEY, formFields, refusalOf, type Response } from '../oauth/helper.js'
import type { CreatedLogin } from '../../src/wire/login.js'

const ATTACKER_IP = '203.0.113.66'
const ATTACKER_UA = 'python-requests/2.31.0'

async function confirmApp (t: Test, emulator: TestEmulator, { driver = 'redis', env = {} }: { driver?: Driver, env?: Record<string, string> } = {}): Promise<TestApp> {
  return build(t, {
    driver,
    emulator,
    env: { LOGIN_REQUIRE_CONFIRM: '1', WECHAT_OPEN_BASE: emulator.url, TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY, TRUST_PROXY: '127.0.0.1', ...env }
  })
}

/** POST /api/login/qr as a given client: its address (through the trusted proxy), its headers. */
async function createLoginAs (app: TestApp, headers: Record<string, string>): Promise<CreatedLogin> {
  const response = await fetch(`${app.url}/api/login/qr`, { method: 'POST', headers })
  if (response.status !== 201) throw new Error(`POST /api/login/qr answered ${response.status}`)
  return await response.json() as CreatedLogin
}

/** The link in the message the phone shows after a scan. */
function linkIn (reply: PhoneMessage): string {
  const link = reply.kind === 'text' ? /<a href="([^"]+)">/.exec(reply.content)?.[1] : undefined
  if (link === undefined) throw new Error(`no link in the phone's message: ${JSON.stringify(reply)}`)
  return link
}

function userOf (emulator: TestEmulator, index: number): string {
  const openid = emulator.emulator.users[index]?.openid
  if (openid === undefined) throw new Error(`the emulator has no test user ${index}`)
  return openid
}

/** On the phone: open the link, answer WeChat's consent sheet as `openid`, land on our callback's page. */
async function openLink (phone: Browser, link: string, openid: string): Promise<Response> {
  const started = await phone.get(link)
  if (started.status !== 302 || started.location === null) return started
  const wechatUrl = new URL(started.location)
  const consent = await phone.get(wechatUrl.toString())
  if (consent.status !== 200) throw new Error(`WeChat's authorize page answered ${consent.status}`)
  const allowed = await phone.post(wechatUrl.toString().split('?')[0] ?? '', { ...formFields(consent.body), openid, decision: 'allow' })
  if (allowed.location === null) throw new Error(`consent answered ${allowed.status}`)
  return phone.get(allowed.location)
}

/** The confirmation page's sealed form, as its hidden field holds it. */
function formOf (page: Response): string {
  const form = /<input type="hidden" name="form" value="([^"]+)">/.exec(page.body)?.[1]
  if (form === undefined) throw new Error(`no confirmation form in the page: ${refusalOf(page.body) ?? page.body.slice(0, 200)}`)
  return form
}

function decide (phone: Browser, app: TestApp, form: string, decision: 'confirm' | 'deny'): Promise<Response> {
  return phone.post(`${app.url}/auth/wechat/confirm`, { form, decision })
}

const decidedOf = (html: string) => /<meta name="wechat-login-confirm" content="([^"]+)">/.exec(html)?.[1] ?? null

async function statusOf (app: TestApp, login: CreatedLogin): Promise<Record<string, unknown>> {
  const response = await fetch(`${app.url}/api/login/status?scene=${login.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })
  return await response.json() as Record<string, unknown>
}

for (const driver of DRIVERS) {
  t.test(`${driver}: QRLJacking: the victim scans the attacker's QR, sees what asks, denies; the attacker never gets a code`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await confirmApp(t, emulator, { driver })
    // The attacker asks for a login from a script (no browser page: no Origin), keeps the secret,
    // and shows the genuine QR on a phishing page.
    const login = await createLoginAs(app, { 'x-forwarded-for': ATTACKER_IP, 'user-agent': ATTACKER_UA })
    const attacker = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    t.equal((await attacker.next()).status, 'pending')

    const victim = userOf(emulator, 0)
    const scan = await emulator.emulator.scan(login.ticket, victim)
    t.equal(scan.status, 200)
    t.equal((await attacker.next()).status, 'scanned', 'the attacker sees the scan')
    const link = linkIn(scan.reply)
    t.match(link, new RegExp(`^${app.url}/auth/wechat/confirm\\?scene=${login.scene}$`), "the victim's phone got the confirmation link with the scan")

    const phone = new Browser()
    const page = await openLink(phone, link, victim)
    t.equal(page.status, 200)
    t.match(page.headers['content-security-policy'], /form-action 'self'/)
    t.notMatch(page.headers['content-security-policy'], /script-src/, 'no script on the page')
    t.match(page.body, 'unknown: no web page asked for it', 'the victim sees that no web page asked for this login')
    t.match(page.body, ATTACKER_UA, "the attacker's client")
    t.match(page.body, ATTACKER_IP, 'and address, as POST /api/login/qr saw them')
    t.match(page.body, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d（北京时间 · Beijing time）/, 'and when')
    const nickname = emulator.emulator.users[0]?.nickname ?? ''
    t.match(page.body, nickname, 'greeting the victim by the nickname WeChat gave')

    const denied = await decide(phone, app, formOf(page), 'deny')
    t.equal(denied.status, 200)
    t.equal(decidedOf(denied.body), 'denied', 'the page says the login was denied')
    const { message } = await waitForStatus(attacker, 'denied')
    t.same(message, { type: 'status', status: 'denied', expiresIn: 0 })
    t.equal(await attacker.closed, 1000, 'the socket closes as for any final status')
    t.same(await statusOf(app, login), { type: 'status', status: 'denied', expiresIn: 0 }, 'the status endpoint says denied too')
    t.equal(emulator.emulator.counters.userInfoCalls, 0, 'no user/info call: the OAuth said who the scanner is')

    const again = await decide(phone, app, formOf(page), 'confirm')
    t.equal(refusalOf(again.body), 'login_finished', 'a denied login cannot be confirmed afterwards')
    t.same(await statusOf(app, login), { type: 'status', status: 'denied', expiresIn: 0 }, 'no code, ever')
    const logs = app.logs.join('\n')
    for (const [name, value] of [['form', formOf(page)], ["victim's openid", victim], ['browser secret', login.secret]] as const) {
      t.notOk(logs.includes(value) || logs.includes(encodeURIComponent(value)), `the ${name} is in no log line`)
    }
  })
}

t.test('confirm: the scanner confirms; the page gets the code, the identity carries nickname and avatar', async (t) => {
  const emulator = await startEmulator(t)
  const site = 'https://shop.example.com'
  const userAgent = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
  const app = await confirmApp(t, emulator, { env: { ALLOWED_ORIGINS: site } })
  const login = await createLoginAs(app, { origin: site, 'user-agent': userAgent, 'x-forwarded-for': '198.51.100.23' })
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await socket.next()
  const scanner = userOf(emulator, 1)
  const scan = await emulator.emulator.scan(login.ticket, scanner)
  t.equal((await socket.next()).status, 'scanned')

  const phone = new Browser()
  const page = await openLink(phone, linkIn(scan.reply), scanner)
  t.match(page.body, site, 'the website that asked')
  t.match(page.body, 'Chrome 126 · Windows', 'its browser, in words')
  t.match(page.body, '198.51.100.23')
  const form = formOf(page)
  const confirmed = await decide(phone, app, form, 'confirm')
  t.equal(decidedOf(confirmed.body), 'confirmed')
  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal(await socket.closed, 1000)
  const code = message.code ?? ''
  const redeemed = await exchange(app, code)
  t.equal(redeemed.status, 200)
  const user = emulator.emulator.users[1]
  t.match(redeemed.body, {
    openid: scanner,
    unionid: user?.unionid ?? null,
    scene: login.scene,
    subscribed: true,
    flow: 'scan',
    profile: { nickname: user?.nickname, headimgurl: /^https:\/\// }
  }, "the scanner's identity, with the nickname and avatar of the snsapi_userinfo authorization")

  const twice = await decide(phone, app, form, 'confirm')
  t.equal(decidedOf(twice.body), 'confirmed', 'a second submit of the form says the same')
  t.match(await statusOf(app, login), { status: 'confirmed', code }, 'and issues no second code')
})

t.test('a forwarded link, a second scanner: nothing changes; the first scanner still decides', async (t) => {
  const emulator = await startEmulator(t)
  const app = await confirmApp(t, emulator)
  const login = await createLoginAs(app, {})
  const [first, second] = [userOf(emulator, 0), userOf(emulator, 2)]
  const firstScan = await emulator.emulator.scan(login.ticket, first)
  const secondScan = await emulator.emulator.scan(login.ticket, second)
  t.equal(secondScan.status, 200, 'a QR on a shared screen: someone else scans it too')

  // The first scanner forwards the link to a friend; the second scanner opens their own link.
  for (const [who, link] of [['a friend the link was forwarded to', linkIn(firstScan.reply)], ['the second scanner', linkIn(secondScan.reply)]] as const) {
    const page = await openLink(new Browser(), link, second)
    t.equal(page.status, 403, who)
    t.equal(refusalOf(page.body), 'not_your_scan')
    t.notMatch(page.body, /name="form"/, 'no form')
  }
  t.match(await statusOf(app, login), { status: 'scanned' }, 'the login is still waiting for its scanner')
  t.ok(app.logs.some((line) => line.includes('confirmation link opened by someone other than its scanner')), 'logged as a warning')

  const phone = new Browser()
  const confirmed = await decide(phone, app, formOf(await openLink(phone, linkIn(firstScan.reply), first)), 'confirm')
  t.equal(decidedOf(confirmed.body), 'confirmed')
  const code = (await statusOf(app, login)).code as string
  t.match((await exchange(app, code)).body, { openid: first }, 'the first scanner is logged in')
})

t.test("the form is the confirming browser's: no cookie, another origin or a changed form change nothing", async (t) => {
  const emulator = await startEmulator(t)
  const app = await confirmApp(t, emulator)
  const login = await createLoginAs(app, {})
  const scanner = userOf(emulator, 0)
  const scan = await emulator.emulator.scan(login.ticket, scanner)
  const phone = new Browser()
  const form = formOf(await openLink(phone, linkIn(scan.reply), scanner))

  const elsewhere = await decide(new Browser(), app, form, 'confirm')
  t.equal(elsewhere.status, 403, 'the form posted by another browser (a page that copied it, cross-site: no cookie)')
  t.equal(refusalOf(elsewhere.body), 'foreign_browser')
  const crossSite = await fetch(`${app.url}/auth/wechat/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example.net', cookie: phone.cookieHeader(new URL(`${app.url}/auth/wechat/confirm`)) ?? '' },
    body: new URLSearchParams({ form, decision: 'confirm' }).toString()
  })
  t.equal(crossSite.status, 403, 'posted by a page of another origin, even with the cookie')
  const changed = form.slice(0, -4) + (form.endsWith('AAAA') ? 'BBBB' : 'AAAA')
  t.equal(refusalOf((await decide(phone, app, changed, 'confirm')).body), 'bad_request', 'a changed form does not open')
  t.equal((await phone.post(`${app.url}/auth/wechat/confirm`, { form, decision: 'maybe' })).status, 400, 'only confirm or deny')
  t.match(await statusOf(app, login), { status: 'scanned' }, 'still waiting')
  t.equal(decidedOf((await decide(phone, app, form, 'confirm')).body), 'confirmed', 'the scanner, in the browser that went through WeChat, still can')
})

t.test("WeChat's retries of a scan: one job, and every answer carries the same link", async (t) => {
  const emulator = await startEmulator(t)
  const app = await confirmApp(t, emulator)
  const login = await createLoginAs(app, {})
  const scan = await emulator.emulator.scan(login.ticket, userOf(emulator, 0))
  const retries: PushResult[] = []
  for (let i = 0; i < 3; i++) retries.push(await emulator.emulator.replay(scan))
  const links = [scan, ...retries].map((result) => linkIn(result.reply))
  t.same(new Set(links).size, 1, 'WeChat shows the answer of the one delivery it accepted: it always carries this link')
  const outcomes = app.logs.filter((line) => line.includes('scan event received')).map((line) => (JSON.parse(line) as { outcome: string }).outcome)
  t.same(outcomes, ['queued', 'duplicate', 'duplicate', 'duplicate'], 'one job')
})

t.test('safe mode: the link goes out as an encrypted, signed passive reply', async (t) => {
  const emulator = await startModeEmulator(t, 'safe')
  const app = await confirmApp(t, emulator, { env: { WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY } })
  const login = await createLoginAs(app, {})
  const scanner = userOf(emulator, 0)
  const scan = await emulator.emulator.scan(login.ticket, scanner)
  t.equal(scan.push.mode, 'safe')
  t.match(scan.body, /^<xml>\n<Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt>\n<MsgSignature><!\[CDATA\[[0-9a-f]{40}\]\]><\/MsgSignature>/, 'encrypted and signed')
  t.notMatch(scan.body, /auth\/wechat\/confirm/, 'the link is not in clear')
  const phone = new Browser()
  const page = await openLink(phone, linkIn(scan.reply), scanner)
  t.equal(decidedOf((await decide(phone, app, formOf(page), 'confirm')).body), 'confirmed', 'the emulated WeChat decrypted it and the link works')
})

t.test('a link to a finished or expired login says so before any WeChat consent', async (t) => {
  const emulator = await startEmulator(t)
  const app = await confirmApp(t, emulator, { env: { LOGIN_TTL_SECONDS: '1' } })
  const login = await createLoginAs(app, {})
  const scan = await emulator.emulator.scan(login.ticket, userOf(emulator, 0))
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await waitForStatus(socket, 'expired')
  const page = await new Browser().get(linkIn(scan.reply))
  t.equal(page.status, 410)
  t.equal(refusalOf(page.body), 'login_expired')
  t.equal(emulator.oauth.counters.codesIssued, 0, 'WeChat was not asked')
  const malformed = await new Browser().get(`${app.url}/auth/wechat/confirm?scene=not-a-scene`)
  t.equal(refusalOf(malformed.body), 'bad_request')
})

t.test('without LOGIN_REQUIRE_CONFIRM the webhook answers "success" and there is no confirmation page', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  const login = await createLoginAs(app, {})
  const scan = await emulator.emulator.scan(login.ticket, userOf(emulator, 0))
  t.equal(scan.body, 'success')
  t.same(scan.reply, { kind: 'none' })
  t.equal((await fetch(`${app.url}/auth/wechat/confirm?scene=${login.scene}`)).status, 404)
})
