import type { Config } from '../config.js'

/** Where the built-in emulator is mounted: on our own port, and under PUBLIC_URL for browsers and phones. */
export const EMULATOR_PREFIX = '/_emulator'

export type EndpointsConfig = Pick<Config,
  'WECHAT_EMULATOR' | 'WECHAT_EMULATOR_PUBLIC_URL' | 'PUBLIC_URL' | 'WECHAT_API_BASE' | 'WECHAT_MP_BASE' | 'WECHAT_OPEN_BASE' | 'HTTPS_PROXY'>

export interface WeChatEndpoints {
  /** The built-in emulator plays WeChat (WECHAT_EMULATOR=1), mounted at EMULATOR_PREFIX. */
  emulated: boolean
  /** api.weixin.qq.com as this process calls it; asked per call, since our own port is known only once we listen. */
  apiBase: () => string
  /** mp.weixin.qq.com (showqrcode) as browsers reach it. */
  mpBase: string
  /** open.weixin.qq.com (OAuth's connect/oauth2/authorize and connect/qrconnect) as browsers reach it. */
  openBase: string
  /** The emulator's own pages (the phone a QR opens) as a phone reaches them; null with the real WeChat. */
  phoneBase: string | null
  /** HTTPS_PROXY carries our calls to WeChat; never to the emulator on our own port. */
  useProxy: boolean
}

function withoutTrailingSlash (url: string): string {
  return url.replace(/\/+$/, '')
}

/**
 * The one place that decides between the real WeChat and the emulator. Each WeChat host has its
 * own client: api.weixin.qq.com this process, mp.weixin.qq.com (and open.weixin.qq.com) browsers,
 * a QR code's link a phone. The emulator serves them all under EMULATOR_PREFIX, reached on our own
 * port, at PUBLIC_URL and at WECHAT_EMULATOR_PUBLIC_URL respectively.
 * `listeningOrigin` is this process's own origin, null while it does not listen (a worker never does).
 */
export function wechatEndpoints (config: EndpointsConfig, listeningOrigin: () => string | null): WeChatEndpoints {
  if (!config.WECHAT_EMULATOR) {
    return {
      emulated: false,
      apiBase: () => config.WECHAT_API_BASE,
      mpBase: config.WECHAT_MP_BASE,
      openBase: config.WECHAT_OPEN_BASE,
      phoneBase: null,
      useProxy: config.HTTPS_PROXY !== undefined
    }
  }
  // Every host browsers load (mp today, open for OAuth) is the emulator under PUBLIC_URL.
  const browserBase = `${withoutTrailingSlash(config.PUBLIC_URL)}${EMULATOR_PREFIX}`
  return {
    emulated: true,
    apiBase: () => {
      const origin = listeningOrigin()
      // A worker-only process has no port of its own: it reaches the emulator at WECHAT_API_BASE.
      return origin === null ? config.WECHAT_API_BASE : `${origin}${EMULATOR_PREFIX}`
    },
    mpBase: browserBase,
    openBase: browserBase,
    // A phone on the LAN must reach the scan page: WECHAT_EMULATOR_PUBLIC_URL when PUBLIC_URL is localhost.
    phoneBase: `${withoutTrailingSlash(config.WECHAT_EMULATOR_PUBLIC_URL ?? config.PUBLIC_URL)}${EMULATOR_PREFIX}`,
    useProxy: false
  }
}
