import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { wechatEndpoints } from '../../src/wechat/endpoints.js'

const REQUIRED = { WECHAT_APP_ID: 'wxendpoints000001', WECHAT_APP_SECRET: 'endpoints-secret', WECHAT_TOKEN: 'endpointsToken', API_KEY: 'endpoints-api-key-0123456789' }
const listening = () => 'http://127.0.0.1:4100'
const notListening = () => null

t.test('the real WeChat: the configured hosts, through HTTPS_PROXY when set', async (t) => {
  const config = loadConfig({ ...REQUIRED, WECHAT_API_BASE: 'https://wechat-gateway.internal', HTTPS_PROXY: 'http://proxy.internal:3128' })
  const endpoints = wechatEndpoints(config, listening)
  t.equal(endpoints.emulated, false)
  t.equal(endpoints.apiBase(), 'https://wechat-gateway.internal', 'WECHAT_API_BASE, even while listening')
  t.equal(endpoints.mpBase, 'https://mp.weixin.qq.com')
  t.equal(endpoints.openBase, 'https://open.weixin.qq.com', 'OAuth authorize pages: WECHAT_OPEN_BASE')
  t.equal(endpoints.phoneBase, null, 'phones use the WeChat app')
  t.equal(endpoints.useProxy, true)
  t.equal(wechatEndpoints(loadConfig(REQUIRED), listening).useProxy, false, 'no proxy unless HTTPS_PROXY is set')
})

t.test('WECHAT_EMULATOR=1: our own port for the API, PUBLIC_URL for browsers, the emulator public URL for phones', async (t) => {
  const config = loadConfig({
    ...REQUIRED,
    WECHAT_EMULATOR: '1',
    PUBLIC_URL: 'http://localhost:3000/',
    WECHAT_EMULATOR_PUBLIC_URL: 'http://192.168.1.5:3000',
    HTTPS_PROXY: 'http://proxy.internal:3128'
  })
  const endpoints = wechatEndpoints(config, listening)
  t.equal(endpoints.emulated, true)
  t.equal(endpoints.apiBase(), 'http://127.0.0.1:4100/_emulator')
  t.equal(endpoints.mpBase, 'http://localhost:3000/_emulator')
  t.equal(endpoints.openBase, 'http://localhost:3000/_emulator', 'OAuth authorize pages: the emulator under PUBLIC_URL')
  t.equal(endpoints.phoneBase, 'http://192.168.1.5:3000/_emulator')
  t.equal(endpoints.useProxy, false, 'the emulator on our own port is called directly, never through HTTPS_PROXY')

  const phoneDefault = wechatEndpoints(loadConfig({ ...REQUIRED, WECHAT_EMULATOR: '1', PUBLIC_URL: 'http://localhost:3000' }), listening)
  t.equal(phoneDefault.phoneBase, 'http://localhost:3000/_emulator', 'phones default to PUBLIC_URL')

  const worker = wechatEndpoints(config, notListening)
  t.equal(worker.apiBase(), 'https://api.weixin.qq.com', 'a process that listens on nothing uses WECHAT_API_BASE')
})
