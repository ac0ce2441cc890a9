import t from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { sha256 } from '../../src/login/tokens.js'

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

t.test('every name is under the deployment\'s prefix', async (t) => {
  const keys = redisKeyspace('deployment-a:')
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
