import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { freePort } from '../helper.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { Browser, formFields } from '../oauth/helper.js'

const demoEntry = join(import.meta.dirname, '..', '..', 'src', 'demo.js')

/** The environment of a bare laptop: no Redis configured, nothing WeChat-related set. */
function bareEnv (port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port) }
  return env
}

function collect (child: ChildProcess): { text: () => string, waitFor: (pattern: RegExp) => Promise<string> } {
  let output = ''
  const waiters: Array<{ pattern: RegExp, resolve: (text: string) => void }> = []
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8')
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(output)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(output)
      }
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  return {
    text: () => output,
    waitFor: (pattern) => pattern.test(output)
      ? Promise.resolve(output)
      : new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve })
        child.once('exit', (code) => reject(new Error(`demo exited (${code}) before printing ${pattern}:\n${output}`)))
      })
  }
}

/** `npm run demo` as a bare laptop runs it, stopped when the test ends. */
function runDemo (t: Test, port: number): ChildProcess {
  const demo = spawn(process.execPath, [demoEntry], { env: bareEnv(port), stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(async () => {
    if (demo.exitCode === null) {
      demo.kill('SIGTERM')
      await once(demo, 'exit')
    }
  })
  return demo
}

t.test('npm run demo: a working login without Redis, the emulator playing WeChat', async (t) => {
  const port = await freePort()
  const demo = runDemo(t, port)
  const output = collect(demo)
  const banner = await output.waitFor(/Exchange codes: .*\n/)
  t.match(banner, `Login page:     http://localhost:${port}`, 'prints the URL to open')
  t.match(banner, /Phone page: +the QR links to http:\/\/\S+\/_emulator\/scan\?ticket=/, "and where the QR's phone page lives")
  // Log lines are written asynchronously: awaited, not expected in the banner's order.
  t.match(await output.waitFor(/EMBEDDED MODE/), /One instance only/, 'says it is embedded, not for more than one instance')
  t.match(await output.waitFor(/WECHAT EMULATOR ENABLED/), /never run this in production/, 'says loudly that WeChat is emulated')
  const apiKey = /Bearer (\S+)'/.exec(banner)?.[1] ?? ''

  const base = `http://127.0.0.1:${port}`
  const page = await fetch(`${base}/`)
  t.equal(page.status, 200, 'the login page is served')

  const login = await (await fetch(`${base}/api/login/qr`, { method: 'POST' })).json() as { scene: string, secret: string, ticket: string, qrUrl: string }
  const phone = new URL(login.qrUrl)
  t.equal(phone.pathname, '/_emulator/scan', 'the QR opens the phone page')

  const socket = await openLoginSocket({ url: base }, { scene: login.scene, secret: login.secret })
  t.equal((await socket.next()).status, 'pending')

  const phonePage = await (await fetch(`${base}${phone.pathname}${phone.search}`)).text()
  const openid = /name="openid" value="([^"]+)"/.exec(phonePage)?.[1]
  t.ok(openid, 'the phone page offers test users')
  const scanned = await fetch(`${base}/_emulator/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ticket: login.ticket, openid: openid ?? '' }).toString()
  })
  t.equal(scanned.status, 200)
  t.match(await scanned.text(), /Pushed to the service: success/)

  const { message: status } = await waitForStatus(socket, 'confirmed')
  t.type(status.code, 'string', 'the page is told, with the code')

  const exchange = await fetch(`${base}/api/login/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ code: status.code })
  })
  t.equal(exchange.status, 200, 'the printed API key redeems the code')
  t.match(await exchange.json(), { openid, scene: login.scene })
})

t.test('npm run demo on a taken port says what to do and exits', async (t) => {
  const blocker = createServer().listen(0, '0.0.0.0')
  await once(blocker, 'listening')
  t.after(() => new Promise((resolve) => blocker.close(resolve)))
  const { port } = blocker.address() as { port: number }

  const demo = spawn(process.execPath, [demoEntry], { env: bareEnv(port), stdio: ['ignore', 'pipe', 'pipe'] })
  const output = collect(demo)
  const [code] = await once(demo, 'exit') as [number]
  t.equal(code, 1)
  t.match(output.text(), `port ${port} is taken: stop what uses it, or set PORT to another port`)
})

t.test('npm run demo: the website QR and OAuth inside WeChat work out of the box', async (t) => {
  const port = await freePort()
  const demo = runDemo(t, port)
  const banner = await collect(demo).waitFor(/Exchange codes: .*\n/)
  const apiKey = /Bearer (\S+)'/.exec(banner)?.[1] ?? ''
  const printed = /Website QR: +(\S+)/.exec(banner)?.[1] ?? ''
  t.match(printed, `http://localhost:${port}/auth/wechat/authorize?flow=web`, 'the banner shows where the website QR starts')
  t.match(banner, /WeChat OAuth: +http:\/\/localhost:\d+\/auth\/wechat\/authorize\?flow=mp/)

  const config = await (await fetch(`http://127.0.0.1:${port}/api/login/config`)).json() as { webLogin: boolean }
  t.equal(config.webLogin, true, 'the page is told the website QR is available')

  for (const flow of ['web', 'mp'] as const) {
    const browser = new Browser()
    const started = await browser.get(flow === 'web' ? printed : /WeChat OAuth: +(\S+)/.exec(banner)?.[1] ?? '')
    t.equal(started.status, 302, `${flow}: to the emulated WeChat`)
    const consent = await browser.get(started.location ?? '')
    const form = formFields(consent.body)
    const openid = /name="openid" value="([^"]+)" checked/.exec(consent.body)?.[1] ?? ''
    const approved = await browser.post((started.location ?? '').split('?')[0] ?? '', { ...form, openid, decision: 'allow' })
    const landed = await browser.get(approved.location ?? '')
    t.equal(landed.status, 302)
    const code = new URL(landed.location ?? '').searchParams.get('code') ?? ''
    const exchanged = await fetch(`http://127.0.0.1:${port}/api/login/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ code })
    })
    t.equal(exchanged.status, 200, `${flow}: the code redeems`)
    t.match(await exchanged.json(), { flow, profile: { nickname: /\S/ } })
  }
})

t.test('LOGIN_REQUIRE_CONFIRM=1 npm run demo: scan, the link on the phone page, confirm, logged in', async (t) => {
  const port = await freePort()
  const demo = spawn(process.execPath, [demoEntry], { env: { ...bareEnv(port), LOGIN_REQUIRE_CONFIRM: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(async () => {
    if (demo.exitCode === null) {
      demo.kill('SIGTERM')
      await once(demo, 'exit')
    }
  })
  const banner = await collect(demo).waitFor(/Exchange codes: .*\n/)
  t.match(banner, /Confirm mode: +on/)
  const apiKey = /Bearer (\S+)'/.exec(banner)?.[1] ?? ''
  const base = `http://127.0.0.1:${port}`
  const login = await (await fetch(`${base}/api/login/qr`, { method: 'POST' })).json() as { scene: string, secret: string, ticket: string, qrUrl: string }
  const socket = await openLoginSocket({ url: base }, { scene: login.scene, secret: login.secret })
  t.equal((await socket.next()).status, 'pending')

  // On the phone page: the second test user scans.
  const phone = new URL(login.qrUrl)
  const phonePage = await (await fetch(`${base}${phone.pathname}${phone.search}`)).text()
  const openid = [...phonePage.matchAll(/name="openid" value="([^"]+)"/g)][1]?.[1] ?? ''
  const scanned = await fetch(`${base}/_emulator/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ticket: login.ticket, openid }).toString()
  })
  const result = await scanned.text()
  t.equal((await socket.next()).status, 'scanned', 'the page shows "scanned", no code')
  const link = /<a href="([^"]+)" id="message-link">/.exec(result)?.[1]?.replace(/&amp;/g, '&') ?? ''
  t.match(link, `http://localhost:${port}/auth/wechat/confirm?scene=${login.scene}`, "the phone page shows the Official Account's message with the link")

  const browser = new Browser()
  const started = await browser.get(link)
  const consent = await browser.get(started.location ?? '')
  t.match(consent.body, new RegExp(`name="openid" value="${openid}" checked`), 'WeChat asks the scanner: whoever scanned holds the phone')
  const approved = await browser.post((started.location ?? '').split('?')[0] ?? '', { ...formFields(consent.body), openid, decision: 'allow' })
  const page = await browser.get(approved.location ?? '')
  t.match(page.body, /确认登录 · Confirm/, 'the confirmation page')
  const form = /name="form" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
  const confirmed = await browser.post(`http://localhost:${port}/auth/wechat/confirm`, { form, decision: 'confirm' })
  t.match(confirmed.body, /已确认登录/)
  const { message } = await waitForStatus(socket, 'confirmed')
  const exchanged = await fetch(`${base}/api/login/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ code: message.code })
  })
  t.match(await exchanged.json(), { openid, flow: 'scan', profile: { nickname: /\S/ } }, 'logged in as the scanner, with a nickname')
})
