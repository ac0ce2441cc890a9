import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { loginTag, newLoginCode, sha256 } from '../../src/login/tokens.js'
import { testCluster } from '../helpers/redis.js'

t.test('the access token names are the README\'s', async (t) => {
  t.strictSame(redisKeyspace('wql:').accessToken('wx0123456789abcdef'), {
    token: 'wql:wechat:access-token:wx0123456789abcdef',
    lock: 'wql:wechat:access-token:wx0123456789abcdef:lock',
    fence: 'wql:wechat:access-token:wx0123456789abcdef:fence',
    forced: 'wql:wechat:access-token:wx0123456789abcdef:forced',
    updated: 'wql:wechat:access-token:wx0123456789abcdef:updated'
  })
})

t.test('a login\'s change channel is not its key', async (t) => {
  const keys = redisKeyspace('wql:')
  t.not(keys.loginChannel('scene'), keys.login('scene'))
})

t.test('a code key names the code\'s hash, never the code', async (t) => {
  const code = 'the-one-time-code'
  const key = redisKeyspace('wql:').loginCode(code)
  t.notMatch(key, code)
  t.equal(key, `wql:code:${sha256(code)}`)
})

for (const layout of ['single', 'cluster'] as const) {
  t.test(`every name is under the deployment's prefix (${layout})`, async (t) => {
    const keys = redisKeyspace('deployment-a:', layout)
    const token = keys.accessToken('wxapp')
    const names = [
      keys.login('s'), keys.loginCode('c'), keys.loginChannel('s'), keys.webhookSignature('sig'),
      token.token, token.lock, token.fence, token.forced, token.updated,
      keys.bullPrefix, keys.rateLimitPrefix,
      keys.connectionName('commands'), keys.connectionName('login-subscriber'), keys.connectionName('token-subscriber'), keys.connectionName('worker')
    ]
    for (const name of names) t.ok(name.startsWith('deployment-a:'), name)
    t.equal(new Set(names).size, names.length, 'no two names alike')
  })
}

t.test('cluster layout: the keys one script touches share a slot, and groups spread over the slots', async (t) => {
  const cluster = testCluster()
  t.after(() => cluster.quit())
  const slot = async (key: string) => Number(await cluster.cluster('KEYSLOT', key))
  const keys = redisKeyspace('wql:', 'cluster')

  const scenes = Array.from({ length: 20 }, () => randomBytes(24).toString('base64url'))
  const loginSlots = new Set<number>()
  for (const scene of scenes) {
    const login = await slot(keys.login(scene))
    loginSlots.add(login)
    // CONFIRM writes the login and its code; the page's channel is published next to them.
    t.equal(await slot(keys.loginCode(newLoginCode(scene))), login, 'a code of the login: the login\'s slot')
    t.equal(await slot(keys.loginChannel(scene)), login, 'its channel: the same slot')
  }
  t.ok(loginSlots.size >= 18, `twenty logins, ${loginSlots.size} slots: one tag per login, not one for all`)

  const token = keys.accessToken('wx0123456789abcdef')
  const tokenSlot = await slot(token.token)
  for (const key of [token.lock, token.fence, token.forced]) t.equal(await slot(key), tokenSlot, `${key}: the token's slot`)
  t.not(await slot(keys.accessToken('wxanotherapp00001').token), tokenSlot, 'another app id, another tag')

  t.equal(await slot(`${keys.bullPrefix}:wechat-events:wait`), await slot(`${keys.bullPrefix}:wechat-events:${randomUUID()}`), 'BullMQ\'s keys: one slot')
})

t.test('cluster layout: a tag after the prefix; the single layout\'s names are unchanged', async (t) => {
  const scene = 'S'.repeat(32)
  const tag = loginTag(scene)
  const cluster = redisKeyspace('wql:', 'cluster')
  t.equal(cluster.login(scene), `wql:{${tag}}login:${scene}`)
  t.equal(cluster.loginChannel(scene), `wql:{${tag}}login-changed:${scene}`)
  const code = newLoginCode(scene)
  t.ok(code.startsWith(tag), 'the code starts with its login\'s tag')
  t.equal(code.length, 47, 'the tag, then 43 characters of 256 random bits')
  t.equal(cluster.loginCode(code), `wql:{${tag}}code:${sha256(code)}`)
  t.equal(cluster.accessToken('wxapp').lock, 'wql:{wxapp}wechat:access-token:wxapp:lock')
  t.equal(cluster.bullPrefix, 'wql:{bull}')
  t.equal(cluster.webhookSignature('sig'), 'wql:webhook-signature:sig', 'a key no script shares needs no tag')

  const single = redisKeyspace('wql:')
  t.equal(single.login(scene), `wql:login:${scene}`)
  t.equal(single.loginChannel(scene), `wql:login-changed:${scene}`)
  t.equal(single.loginCode(code), `wql:code:${sha256(code)}`)
  t.equal(single.bullPrefix, 'wql:bull')
})
