/**
 * `npm run demo`: the whole product on one laptop. The built-in WeChat emulator plays WeChat and
 * the phone; without REDIS_URL the state lives in this process (embedded mode).
 */
import { randomBytes } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { isEmbedded } from './config.js'
import { runProcess } from './process.js'
import { listeningOrigin } from './util/listening-url.js'
import { wechatEndpoints } from './wechat/endpoints.js'

const port = process.env.PORT ?? '3000'

/** The first non-internal IPv4 address: a phone on the same Wi-Fi reaches the emulator's scan page there. */
function lanAddress (): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address
    }
  }
  return undefined
}

const lan = lanAddress()
const local = `http://localhost:${port}`
const lanUrl = lan === undefined ? undefined : `http://${lan}:${port}`
const apiKey = process.env.API_KEY ?? `demo-${randomBytes(12).toString('hex')}`
const pageOrigins = [local, `http://127.0.0.1:${port}`, ...(lanUrl === undefined ? [] : [lanUrl])].join(',')

const env: Record<string, string | undefined> = {
  WECHAT_EMULATOR: '1',
  WECHAT_APP_ID: 'wxdemo0000000000',
  WECHAT_APP_SECRET: 'demo-app-secret',
  // Long and random, as a real one must be (a short one draws a warning at boot).
  WECHAT_TOKEN: randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 32),
  PUBLIC_URL: local,
  // The QR encodes the emulator's phone page: on the LAN address, so a real phone camera can open it.
  WECHAT_EMULATOR_PUBLIC_URL: lanUrl ?? local,
  // The page may be opened under any of these names; its socket checks the Origin.
  ALLOWED_ORIGINS: pageOrigins,
  // OAuth: a demo website app for the website QR, and the page's own origins to return to.
  WECHAT_OPEN_APP_ID: 'wxdemoopen000000',
  WECHAT_OPEN_APP_SECRET: 'demo-open-app-secret',
  ALLOWED_RETURN_ORIGINS: pageOrigins,
  TOKEN_ENC_KEY: randomBytes(32).toString('base64'),
  ...process.env,
  PORT: port,
  API_KEY: apiKey
}

const { fastify, config } = await runProcess('server', env)
const { phoneBase } = wechatEndpoints(config, () => listeningOrigin(fastify.server))

console.log(`
  wechat-qr-login demo (WeChat is emulated; ${isEmbedded(config) ? 'state in this process' : `state in ${config.REDIS_URL === undefined ? `the Redis Cluster at ${config.REDIS_CLUSTER_NODES ?? ''}` : withoutPassword(config.REDIS_URL)}`})

  Login page:     ${local}
  ${lanUrl === undefined ? '' : `On your LAN:    ${lanUrl}  (a phone on the same network can scan the QR)\n  `}Phone page:     the QR links to ${phoneBase ?? 'WeChat'}/scan?ticket=…
  WeChat OAuth:   ${local}/auth/wechat/authorize?flow=mp&scope=snsapi_userinfo&return_to=${encodeURIComponent(`${local}/`)}
  Website QR:     ${local}/auth/wechat/authorize?flow=web&return_to=${encodeURIComponent(`${local}/`)}
  Confirm mode:   ${config.LOGIN_REQUIRE_CONFIRM ? 'on: after a scan the phone page shows the confirmation link' : 'off (LOGIN_REQUIRE_CONFIRM=1 npm run demo: confirm each login on the phone page)'}
  Exchange codes: curl -X POST ${local}/api/login/exchange -H 'authorization: Bearer ${apiKey}' -H 'content-type: application/json' -d '{"code":"…"}'
`)

/** A Redis URL fit for a terminal: its password is not printed. */
function withoutPassword (url: string): string {
  const parsed = new URL(url)
  if (parsed.password !== '') parsed.password = '***'
  return parsed.toString()
}
