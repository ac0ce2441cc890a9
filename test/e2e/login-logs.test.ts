/**
 * One log line per step of a login, each naming the login by the hash of its scene (`login`), never
 * by the scene; the worker's lines about a scan carry the id of the webhook request that queued it.
 */
import t from 'tap'
import { loginLogKey } from '../../src/login/log-key.js'
import { build, createLogin, exchange, startEmulator } from '../helper.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

type LogLine = Record<string, unknown> & { msg: string }

function linesSaying (logs: string[], msg: string): LogLine[] {
  return logs.map((line) => JSON.parse(line) as LogLine).filter((line) => line.msg === msg)
}

t.test('created, scanned, confirmed, redeemed: one line each, keyed by the scene\'s hash, the request id carried into the job', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  const login = await createLogin(app)
  const key = loginLogKey(login.scene)
  t.match(key, /^[0-9a-f]{12}$/, 'a short hash')
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await socket.next()
  const user = emulator.emulator.users.find((candidate) => candidate.following)!
  await emulator.emulator.scan(login.ticket, user.openid)
  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal((await exchange(app, message.code ?? '')).status, 200)

  for (const step of ['login created', 'scan event received', 'login scanned', 'login confirmed', 'login code redeemed']) {
    const lines = linesSaying(app.logs, step)
    t.equal(lines.length, 1, `one "${step}" line`)
    t.equal(lines[0]?.login, key, `"${step}" names the login by its hash`)
    t.notOk('scene' in (lines[0] ?? {}), `"${step}" has no scene field`)
  }
  const [received] = linesSaying(app.logs, 'scan event received')
  t.type(received?.reqId, 'string', 'the webhook\'s line has its request id')
  for (const step of ['login scanned', 'login confirmed']) {
    t.equal(linesSaying(app.logs, step)[0]?.reqId, received?.reqId, `the worker's "${step}" carries the webhook's request id`)
  }
  t.notOk(app.logs.some((line) => line.includes(login.scene)), 'the scene is in no log line')
})

t.test('expired: the socket that watched it says so, by the hash', async (t) => {
  const app = await build(t, { emulator: await startEmulator(t), env: { LOGIN_TTL_SECONDS: '1' } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await waitForStatus(socket, 'expired')
  await socket.closed
  const lines = linesSaying(app.logs, 'login expired')
  t.equal(lines.length, 1, 'one "login expired" line')
  t.equal(lines[0]?.login, loginLogKey(login.scene))
  t.notOk(app.logs.some((line) => line.includes(login.scene)), 'the scene is in no log line')
})

t.test('at info, a push writes one line: the scan\'s (Fastify\'s request lines for the webhook are debug); other routes keep theirs', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator, env: { LOG_LEVEL: 'info' } })
  const login = await createLogin(app)
  const webhookLines = () => app.logs.map((line) => JSON.parse(line) as LogLine)
    .filter((line) => String((line.req as { url?: string } | undefined)?.url ?? '').startsWith('/wechat/webhook') || line.msg === 'scan event received')
  const user = emulator.emulator.users.find((candidate) => candidate.following)!
  const answer = await emulator.emulator.scan(login.ticket, user.openid)
  t.equal(answer.status, 200)
  const scanLine = linesSaying(app.logs, 'scan event received')[0]
  t.same(webhookLines().map((line) => line.msg), ['scan event received'], 'the push is one line')
  const reqId = scanLine?.reqId
  t.equal(app.logs.filter((line) => reqId !== undefined && line.includes(String(reqId)) && !line.includes('"login scanned"') && !line.includes('"login confirmed"')).length, 1,
    'no other web line of that request')
  t.ok(linesSaying(app.logs, 'incoming request').some((line) => (line.req as { url?: string }).url === '/api/login/qr'), 'a page\'s request is still logged')
})
