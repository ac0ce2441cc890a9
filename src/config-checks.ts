import { BlockList, isIP } from 'node:net'

/** The variables checked here (structurally a part of Config, so config.ts can call in here). */
export interface CheckedSettings {
  API_KEY: string
  WECHAT_TOKEN: string
  PUBLIC_URL: string
  WECHAT_EMULATOR: boolean
  WECHAT_EMULATOR_PUBLIC_URL?: string | undefined
  TRUST_PROXY?: string | undefined
}

/** .env.example's API_KEY: a copied example must not become a deployment's key (test/config.test.ts keeps them equal). */
export const EXAMPLE_API_KEY = 'change-me-to-a-long-random-string'

/**
 * Below this a WECHAT_TOKEN falls to an offline search: one signed webhook URL (a log line, a
 * proxy's access log) gives sha1(sort(token, timestamp, nonce)), and a GPU tries billions of
 * tokens a second. 16 of 62 letters and digits are 95 bits.
 */
export const WECHAT_TOKEN_WARN_BELOW = 16

const LOCAL_NETWORKS = new BlockList()
for (const [network, prefix] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['100.64.0.0', 10]] as const) {
  LOCAL_NETWORKS.addSubnet(network, prefix, 'ipv4')
}
for (const [network, prefix] of [['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) LOCAL_NETWORKS.addSubnet(network, prefix, 'ipv6')
const LOCAL_NAMES = /(^|\.)(localhost|local|test|internal|lan|home\.arpa)$/i

/**
 * A public https URL: how a real deployment is reached, never a laptop's or a LAN's demo. An https
 * name or address outside loopback, private networks and the names reserved for them is public.
 */
export function isPublicHttpsUrl (url: string): boolean {
  const parsed = new URL(url)
  if (parsed.protocol !== 'https:') return false
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  const family = isIP(host)
  if (family !== 0) return !LOCAL_NETWORKS.check(host, family === 4 ? 'ipv4' : 'ipv6')
  return !LOCAL_NAMES.test(host)
}

/**
 * Settings that are valid but unsafe enough to refuse: the message names the variable, never a
 * value. null when fine. (Checked by loadConfig, after the schema.)
 */
export function unsafeConfigProblem (config: CheckedSettings): string | null {
  if (config.API_KEY === EXAMPLE_API_KEY) {
    return "API_KEY is .env.example's placeholder: set a long random key of your own (e.g. `openssl rand -base64 32`)"
  }
  if (config.WECHAT_EMULATOR) {
    // The emulator signs pushes with WECHAT_TOKEN: on a copy of production settings it could forge scans for production.
    for (const name of ['PUBLIC_URL', 'WECHAT_EMULATOR_PUBLIC_URL'] as const) {
      const url = config[name]
      if (url !== undefined && isPublicHttpsUrl(url)) {
        return `WECHAT_EMULATOR=1 with a public https ${name}: the emulator impersonates WeChat and signs with WECHAT_TOKEN, so it refuses to run where a real deployment is. Use it on localhost or a private network only`
      }
    }
  }
  return null
}

/** Settings that work but quietly weaken the service: one warning each, logged at boot. */
export function configWarnings (config: Pick<CheckedSettings, 'TRUST_PROXY' | 'WECHAT_TOKEN'>): string[] {
  const warnings: string[] = []
  if (config.TRUST_PROXY?.trim().toLowerCase() === 'true') {
    warnings.push('TRUST_PROXY=true trusts every X-Forwarded-For entry, which any client can write: each request may name its own IP and escape the per-IP limits. Set the number of proxies in front (TRUST_PROXY=1 behind one) or their addresses')
  }
  if (config.WECHAT_TOKEN.length < WECHAT_TOKEN_WARN_BELOW) {
    warnings.push(`WECHAT_TOKEN has ${config.WECHAT_TOKEN.length} characters: from one signed webhook URL it can be found offline by brute force, and then pushes forged. Use 32 random letters and digits (the console allows 3-32)`)
  }
  return warnings
}
