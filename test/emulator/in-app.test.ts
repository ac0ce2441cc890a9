import t from 'tap'
import { build, createLogin, TEST_WECHAT } from '../helper.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

// The `npm run demo` path: WECHAT_EMULATOR=1 mounts the emulator in the app itself, which then calls
// its own /_emulator as WeChat and receives the emulator's pushes on its own webhook.
t.test('WECHAT_EMULATOR=1: QR, phone page, scan and confirmation all inside one process', async (t) => {
  const app = await build(t, { env: { WECHAT_EMULATOR: '1', WECHAT_EMULATOR_PUBLIC_URL: 'http://192.168.1.5:3000' } })
  const login = await createLogin(app)
  const phoneUrl = new URL(login.qrUrl)
  t.equal(phoneUrl.origin, 'http://192.168.1.5:3000', 'the QR points where a phone on the LAN reaches the emulator')
  t.equal(phoneUrl.pathname, '/_emulator/scan')
  t.equal(phoneUrl.searchParams.get('ticket'), login.ticket)

  const image = await fetch(`${app.url}${new URL(login.qrImageUrl).pathname}${new URL(login.qrImageUrl).search}`)
  t.equal(image.status, 200)
  t.equal(image.headers.get('content-type'), 'image/png')

  const page = await fetch(`${app.url}${phoneUrl.pathname}${phoneUrl.search}`)
  t.equal(page.status, 200)
  t.match(await page.text(), /<button type="submit">Scan<\/button>/)

  const { users } = await (await fetch(`${app.url}/_emulator/_control/users`)).json() as { users: Array<{ openid: string, following: boolean }> }
  const newcomer = users.find((user) => !user.following)!
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  t.equal((await socket.next()).status, 'pending')

  const scanned = await fetch(`${app.url}/_emulator/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ticket: login.ticket, openid: newcomer.openid }).toString()
  })
  t.equal(scanned.status, 200)
  t.match(await scanned.text(), /Pushed to the service: success/)
  const { message } = await waitForStatus(socket, 'confirmed')
  t.type(message.code, 'string')

  const counters = await (await fetch(`${app.url}/_emulator/_control/counters`)).json()
  t.match(counters, { qrCreates: 1, userInfoCalls: 1, pushes: 1 })
  t.notOk(app.logs.some((line) => line.includes(TEST_WECHAT.WECHAT_APP_SECRET)), 'the app secret is not logged')
  t.notOk(app.logs.some((line) => /access_token=(?!%5Bredacted%5D)/.test(line)), 'tokens in URLs are logged redacted')
  t.notOk(app.logs.some((line) => line.includes(login.ticket) || line.includes(encodeURIComponent(login.ticket))), 'the ticket is not logged')
})
