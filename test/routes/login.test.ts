import t from 'tap'
import { DRIVERS, build, createLogin, startEmulator } from '../helper.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

for (const driver of DRIVERS) {
  t.test(`${driver}: a new login carries its QR and a secret, and lives LOGIN_TTL_SECONDS`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator, env: { LOGIN_TTL_SECONDS: '120' } })
    const before = Date.now()
    const login = await createLogin(app)
    t.match(login.scene, /^[A-Za-z0-9_-]{32}$/, '192 random bits, URL-safe, within WeChat\'s 64-character scene_str')
    t.match(login.secret, /^[A-Za-z0-9_-]{43}$/)
    t.not(login.secret, login.scene)
    t.equal(login.expiresIn, 120)
    const expiresAt = Date.parse(login.expiresAt)
    t.ok(expiresAt >= before + 119_000 && expiresAt <= Date.now() + 120_000, 'expiresAt is the TTL from now')

    const code = emulator.emulator.findQrCode(login.ticket)
    t.ok(code, 'WeChat made the QR code')
    t.equal(code?.code.sceneStr, login.scene, 'a QR_STR_SCENE code for this scene')
    t.equal(code?.code.expireSeconds, 120, 'expire_seconds is the login TTL')
    t.equal(login.qrUrl, code?.code.url, 'qrUrl is what WeChat said the QR encodes')
    t.equal(login.qrImageUrl, `${emulator.url}/cgi-bin/showqrcode?ticket=${encodeURIComponent(login.ticket)}`,
      'qrImageUrl is showqrcode with the ticket URL-encoded (tickets hold + / =)')
    const image = await fetch(login.qrImageUrl)
    t.equal(image.status, 200, 'and WeChat serves it')
  })
}

t.test('a WeChat error while creating a login is a 502 with its errcode, and stores nothing', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  emulator.emulator.faults.errcode('qrcode/create', 45009)
  const response = await fetch(`${app.url}/api/login/qr`, { method: 'POST' })
  t.equal(response.status, 502)
  t.match(await response.json(), { error: 'wechat_error', errcode: 45009 })
  t.ok(app.logs.some((line) => line.includes('"errcode":45009')), 'the errcode is logged for the operator')
  t.equal((await createLogin(app)).expiresIn, 300, 'the next one goes through')
})

t.test('WeChat unreachable while creating a login is a 502, never a 500', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator, env: { WECHAT_RETRY_DEADLINE_MS: '0', WECHAT_TIMEOUT_MS: '500' } })
  await createLogin(app)
  emulator.emulator.faults.down('qrcode/create', { times: 1 })
  const response = await fetch(`${app.url}/api/login/qr`, { method: 'POST' })
  t.equal(response.status, 502)
  t.match(await response.json(), { error: 'wechat_unreachable' })
})

t.test('exchange checks the API key before it reads the body', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t) })
  const response = await fetch(`${app.url}/api/login/exchange`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-key-0123456789' }, body: '{"not":"valid"'
  })
  t.equal(response.status, 401, 'a wrong key with a malformed body is a 401, not a validation message')
  t.same(await response.json(), { error: 'unauthorized' })
})

t.test('the login socket refuses oversized messages and ignores a second subscription', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  const huge = await openLoginSocket(app)
  huge.ws.send(JSON.stringify({ type: 'subscribe', scene: 'A'.repeat(32), secret: 'x'.repeat(5000) }))
  t.equal(await huge.closed, 1009, 'over 4 KiB: closed as "message too big" before any parsing')

  const [first, second] = [await createLogin(app), await createLogin(app)]
  const socket = await openLoginSocket(app, { scene: first.scene, secret: first.secret })
  t.equal((await socket.next()).status, 'pending')
  socket.ws.send(JSON.stringify({ type: 'subscribe', scene: second.scene, secret: second.secret }))
  await emulator.emulator.scan(second.ticket, emulator.emulator.users[0]?.openid ?? '')
  await emulator.emulator.scan(first.ticket, emulator.emulator.users[1]?.openid ?? '')
  const { message, seen } = await waitForStatus(socket, 'confirmed')
  t.equal(await socket.closed, 1000)
  t.notOk(seen.includes('error:bad_request'), 'the second subscribe was ignored, not answered')
  const codeOf = async (login: typeof first) => {
    const response = await fetch(`${app.url}/api/login/status?scene=${login.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })
    return (await response.json() as { code?: string }).code
  }
  t.equal(message.code, await codeOf(first), 'the socket reported the login it subscribed to first')
  t.not(message.code, await codeOf(second), 'not the one of its second subscribe')
})
