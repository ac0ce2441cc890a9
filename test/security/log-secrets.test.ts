import { Redis } from 'ioredis'
import t from 'tap'
import { newLoginCode } from '../../src/login/tokens.js'
import { parseEncodingAesKey } from '../../src/wechat/crypto.js'
import { encryptedPush, scanXml, signedQuery, startModeEmulator, TEST_ENCODING_AES_KEY } from '../fixtures/webhook.js'
import { build, createLogin, exchange, TEST_WECHAT, type TestApp } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

async function post (app: TestApp, query: string, body: string) {
  const response = await fetch(`${app.url}/wechat/webhook?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body })
  return response.status
}

/** The emulator hands out the current stable token again in normal mode: the one the service holds. */
async function currentAccessToken (emulatorUrl: string): Promise<string> {
  const response = await fetch(`${emulatorUrl}/cgi-bin/stable_token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credential', appid: TEST_WECHAT.WECHAT_APP_ID, secret: TEST_WECHAT.WECHAT_APP_SECRET })
  })
  const { access_token: token } = await response.json() as { access_token?: string }
  if (typeof token !== 'string') throw new Error('the emulator issued no token')
  return token
}

t.test('no log line carries a secret: full login, safe-mode push, bad requests', async (t) => {
  const emulator = await startModeEmulator(t, 'safe')
  const app = await build(t, { emulator, env: { WECHAT_ENCODING_AES_KEY: TEST_ENCODING_AES_KEY } })
  t.equal(app.config.LOG_LEVEL, 'debug', 'everything the app can log is captured')
  const secrets = new Map<string, string>([
    ['app secret', TEST_WECHAT.WECHAT_APP_SECRET],
    ['API key', TEST_WECHAT.API_KEY],
    ['webhook token', TEST_WECHAT.WECHAT_TOKEN],
    ['EncodingAESKey', TEST_ENCODING_AES_KEY],
    ['AES key (hex)', parseEncodingAesKey(TEST_ENCODING_AES_KEY).toString('hex')],
    ['AES key (base64)', parseEncodingAesKey(TEST_ENCODING_AES_KEY).toString('base64')]
  ])

  // A whole login: create, socket, scan (pushed in safe mode), code, exchange, then the code again.
  const login = await createLogin(app)
  // Not a secret alone, but log lines name a login by its hash (`login`), never by its scene.
  secrets.set('scene', login.scene)
  secrets.set('browser secret', login.secret)
  secrets.set('ticket', login.ticket)
  secrets.set('access token', await currentAccessToken(emulator.url))
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await socket.next()
  const user = emulator.emulator.users.find((candidate) => !candidate.following)!
  const scan = await emulator.emulator.scan(login.ticket, user.openid)
  t.equal(scan.push.mode, 'safe')
  // A signed webhook URL is a credential for the whole timestamp window.
  const pushed = new URLSearchParams(scan.push.query)
  for (const name of ['signature', 'msg_signature', 'nonce']) secrets.set(`webhook ${name}`, pushed.get(name) ?? `missing ${name}`)
  const { message } = await waitForStatus(socket, 'confirmed')
  const code = message.code ?? ''
  secrets.set('login code', code)
  const status = await fetch(`${app.url}/api/login/status?scene=${login.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })
  t.equal(status.status, 200)
  t.equal((await exchange(app, code)).status, 200)
  t.equal((await exchange(app, code)).status, 400, 'a used code')

  // A token WeChat revoked: the service fetches another one (and may log the failure).
  emulator.emulator.invalidateTokens()
  const second = await createLogin(app)
  secrets.set('second scene', second.scene)
  secrets.set('second browser secret', second.secret)
  secrets.set('second access token', await currentAccessToken(emulator.url))

  // Bad requests that carry secrets where they do not belong.
  t.equal((await exchange(app, code, 'wrong-api-key-0123456789')).status, 401)
  t.equal((await exchange(app, 'not-a-code', TEST_WECHAT.API_KEY)).status, 400)
  const leakyQuery = new URLSearchParams({ scene: login.scene, secret: login.secret, code, access_token: secrets.get('access token') ?? '' })
  t.ok((await fetch(`${app.url}/api/login/status?${leakyQuery.toString()}`)).status >= 400, 'secrets in a query string')
  t.equal((await fetch(`${app.url}/api/login/status?scene=${second.scene}`, { headers: { authorization: `Bearer ${login.secret}` } })).status, 404, 'the wrong secret')
  t.equal(await post(app, signedQuery({}, 'wrongtoken'), scanXml(second.scene)), 401, 'a forged push')
  const forgedAes = encryptedPush(scanXml(second.scene), { encodingAesKey: 'B'.repeat(43) })
  t.equal(await post(app, forgedAes.query, forgedAes.body), 400, 'encrypted with another key')
  const badMsgSignature = new URLSearchParams(encryptedPush(scanXml(second.scene)).query)
  badMsgSignature.set('msg_signature', 'f'.repeat(40))
  t.equal(await post(app, badMsgSignature.toString(), encryptedPush(scanXml(second.scene)).body), 401, 'a bad msg_signature')
  t.equal((await fetch(`${app.url}/wechat/webhook?${signedQuery({ echostr: 'echo-1234567890' })}`)).status, 200, 'the URL check')

  const logs = app.logs.join('\n')
  t.ok(app.logs.length > 20, `${app.logs.length} log lines captured`)
  for (const [name, value] of secrets) {
    t.ok(value.length >= 8, `${name} is long enough to search for`)
    t.notOk(logs.includes(value), `the ${name} is in no log line`)
    t.notOk(logs.includes(encodeURIComponent(value)), `the ${name} is in no log line, URL-encoded either`)
  }
})

t.test('a failed Redis command is logged without its arguments: they can hold a login code or a token', async (t) => {
  const app = await build(t)
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  const code = newLoginCode()
  // One field and no value: Redis refuses it, and ioredis puts the command's arguments on the error.
  const failure = await redis.hset(`${app.config.REDIS_PREFIX}code-probe`, code).then(() => null, (error: unknown) => error)
  t.ok(failure instanceof Error, 'Redis refused the command')
  app.fastify.log.error({ err: failure }, 'job failed')
  const line = app.logs.find((candidate) => candidate.includes('job failed')) ?? ''
  t.match(JSON.parse(line), { err: { command: { name: 'hset', args: '[redacted]' } } }, 'the command is named, its arguments are not')
  t.notOk(line.includes(code), 'the login code is in no log line')
})
