import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, ConfigSchema, allowedOrigins, isEmbedded, loadConfig, redisClusterNodes, trustProxy } from '../src/config.js'
import { TEST_WECHAT } from './helper.js'

const root = join(import.meta.dirname, '..', '..')

t.test('defaults: the documented ones', async (t) => {
  const config = loadConfig({ ...TEST_WECHAT })
  t.match(config, {
    PORT: 3000,
    HOST: '0.0.0.0',
    REDIS_PREFIX: 'wql:',
    WECHAT_API_BASE: 'https://api.weixin.qq.com',
    WECHAT_MP_BASE: 'https://mp.weixin.qq.com',
    LOGIN_TTL_SECONDS: 300,
    LOGIN_CODE_TTL_SECONDS: 60,
    RUN_WORKER: true,
    WECHAT_EMULATOR: false
  })
  t.equal(config.REDIS_URL, undefined, 'no REDIS_URL: embedded mode')
})

t.test('flags take the words operators write', async (t) => {
  for (const [word, value] of [['0', false], ['1', true], ['false', false], ['true', true], ['no', false], ['yes', true]] as const) {
    t.equal(loadConfig({ ...TEST_WECHAT, RUN_WORKER: word }).RUN_WORKER, value, `RUN_WORKER=${word}`)
  }
})

t.test('a bad variable is refused at boot, named, its value never echoed', async (t) => {
  const refused = (env: Record<string, string>, name: string) => {
    const error = (() => { try { loadConfig({ ...TEST_WECHAT, ...env }); return null } catch (caught) { return caught } })()
    t.type(error, ConfigError, `${name} refused`)
    t.match((error as Error).message, name, `the message names ${name}`)
    for (const [key, value] of Object.entries(env)) {
      if (/SECRET|KEY|TOKEN/.test(key)) t.notMatch((error as Error).message, value, 'and does not quote the secret')
    }
  }
  refused({ PORT: 'eighty' }, 'PORT')
  refused({ API_KEY: 'short-secretkey' }, 'API_KEY')
  refused({ WECHAT_TOKEN: 'has spaces in it' }, 'WECHAT_TOKEN')
  refused({ WECHAT_ENCODING_AES_KEY: 'a'.repeat(42) }, 'WECHAT_ENCODING_AES_KEY')
  refused({ WECHAT_ENCODING_AES_KEY: 'a'.repeat(44) }, 'WECHAT_ENCODING_AES_KEY')
  refused({ REDIS_URL: 'localhost:6379' }, 'REDIS_URL')
  refused({ WECHAT_EMULATOR_MODE: 'safe' }, 'WECHAT_ENCODING_AES_KEY')
  refused({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL')
  refused({ ALLOWED_ORIGINS: 'shop.example.com' }, 'ALLOWED_ORIGINS')
  const missing = (() => { try { loadConfig({}); return null } catch (caught) { return caught as Error } })()
  t.match(missing?.message, /WECHAT_APP_ID|WECHAT_APP_SECRET|WECHAT_TOKEN|API_KEY/, 'required variables are named when absent')
})

t.test('REDIS_CLUSTER_NODES: host:port of the nodes, exclusive with REDIS_URL, checked at boot', async (t) => {
  const nodes = '10.0.0.1:7000, redis-2.internal:7001,[::1]:7002'
  const config = loadConfig({ ...TEST_WECHAT, REDIS_CLUSTER_NODES: nodes })
  t.same(redisClusterNodes(config), [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-2.internal', port: 7001 }, { host: '::1', port: 7002 }])
  t.equal(isEmbedded(config), false, 'a cluster is not embedded mode')
  t.equal(isEmbedded(loadConfig({ ...TEST_WECHAT })), true)

  const refusal = (env: Record<string, string>) => {
    try { loadConfig({ ...TEST_WECHAT, ...env }); return '' } catch (caught) { t.type(caught, ConfigError); return (caught as Error).message }
  }
  t.match(refusal({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: nodes }), /REDIS_URL and REDIS_CLUSTER_NODES are both set/, 'not both')
  for (const bad of ['10.0.0.1', '10.0.0.1:7000,', 'redis://:secret-password@10.0.0.1:7000', '10.0.0.1:0', '10.0.0.1:70000', 'a b:7000']) {
    const message = refusal({ REDIS_CLUSTER_NODES: bad })
    t.match(message, /REDIS_CLUSTER_NODES must be comma-separated host:port/, `refused: ${bad}`)
    t.notMatch(message, 'secret-password', 'the value is never echoed (a URL may hold a password)')
  }
})

t.test('derived settings', async (t) => {
  t.same(allowedOrigins({ PUBLIC_URL: 'https://login.example.com/base', ALLOWED_ORIGINS: undefined }), ['https://login.example.com'])
  t.same(allowedOrigins({ PUBLIC_URL: 'https://login.example.com', ALLOWED_ORIGINS: ' https://a.example.com , https://b.example.com:8443/x' }),
    ['https://a.example.com', 'https://b.example.com:8443'])
  t.equal(trustProxy({ TRUST_PROXY: undefined }), false)
  t.equal(trustProxy({ TRUST_PROXY: 'true' }), true)
  t.same(trustProxy({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }), ['10.0.0.0/8', '127.0.0.1'])
  const hops = trustProxy({ TRUST_PROXY: '1' })
  t.type(hops, 'function')
  if (typeof hops === 'function') t.same([hops('x', 0), hops('x', 1)], [true, false], 'one hop trusted')
})

t.test('every variable is documented in .env.example and the README', async (t) => {
  const example = readFileSync(join(root, '.env.example'), 'utf8')
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  for (const name of Object.keys(ConfigSchema.properties)) {
    t.match(example, new RegExp(`^#? ?${name}=`, 'm'), `.env.example lists ${name}`)
    t.match(readme, `\`${name}\``, `the README's table explains ${name}`)
  }
})
