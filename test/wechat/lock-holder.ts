/**
 * A process of the deployment that takes the token refresh lock and starts a fetch, then is killed
 * by access-token.test.ts (SIGKILL: no finally, no release) while the emulator holds that fetch.
 * Run with fork(): argv = redis URL, key prefix, emulator URL, lock TTL in ms.
 */
import { Agent } from 'undici'
import { loadConfig } from '../../src/config.js'
import { createDrivers } from '../../src/drivers/index.js'
import { createAccessTokens } from '../../src/wechat/access-token.js'
import { createWeChatHttp } from '../../src/wechat/http.js'
import { stableTokenSource } from '../../src/wechat/token-source.js'
import { TEST_WECHAT } from '../helper.js'

const [redisUrl = '', prefix = '', apiBase = '', lockTtl = ''] = process.argv.slice(2)
const config = loadConfig({ ...TEST_WECHAT, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, WECHAT_API_BASE: apiBase })
const drivers = createDrivers(config)
await drivers.ready()
const http = createWeChatHttp({ baseUrl: () => apiBase, timeoutMs: 60_000, dispatcher: new Agent() })
const tokens = createAccessTokens({
  cache: drivers.tokenCache,
  source: stableTokenSource(http, config.WECHAT_APP_ID, config.WECHAT_APP_SECRET),
  refreshMarginMs: 300_000,
  lockTtlMs: Number(lockTtl)
})
// The emulator holds this fetch; the parent kills us while it hangs.
await tokens.get()
