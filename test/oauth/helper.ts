import { request } from 'undici'
import type { Env } from '../../src/config.js'
import { build, type BuildOptions, type TestApp } from '../helper.js'
import type { Scope } from '../helpers/scope.js'

/** Test credentials of a website app and a token key: never real ones. */
export const TEST_OPEN_APP = {
  WECHAT_OPEN_APP_ID: 'wxtestopenapp0001',
  WECHAT_OPEN_APP_SECRET: 'test-open-app-secret-0123456789'
} as const
/** 32 bytes, base64. */
export const TEST_TOKEN_ENC_KEY = Buffer.from('0123456789abcdef0123456789ABCDEF').toString('base64')
/** The site that uses the login: its pages are where return_to points. */
export const SITE = 'https://shop.example.com'

/** OAuth on, through the built-in emulator (WECHAT_EMULATOR=1): authorize pages and sns/* on the app's own port. */
export function oauthEnv (env: Env = {}): Env {
  return {
    WECHAT_EMULATOR: '1',
    ...TEST_OPEN_APP,
    ALLOWED_RETURN_ORIGINS: SITE,
    TOKEN_ENC_KEY: TEST_TOKEN_ENC_KEY,
    ...env
  }
}

export async function buildOAuthApp (t: Scope, options: BuildOptions = {}): Promise<TestApp> {
  return build(t, { ...options, env: oauthEnv(options.env) })
}

export interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The Location header, absolute. */
  location: string | null
  body: string
}

interface StoredCookie {
  name: string
  value: string
  host: string
  path: string
}

/**
 * A browser as far as the flow needs one: a cookie jar (host and path respected, as a browser does)
 * and requests that follow no redirect, so a test sees and asserts every hop.
 */
export class Browser {
  readonly cookies: StoredCookie[] = []

  cookieHeader (url: URL): string | undefined {
    const matching = this.cookies.filter((cookie) => cookie.host === url.host && url.pathname.startsWith(cookie.path))
    return matching.length === 0 ? undefined : matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ')
  }

  private remember (url: URL, header: string | string[] | undefined): void {
    for (const line of header === undefined ? [] : Array.isArray(header) ? header : [header]) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim())
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const path = attributes.find((attribute) => /^path=/i.test(attribute))?.slice(5) ?? '/'
      const index = this.cookies.findIndex((cookie) => cookie.name === name && cookie.host === url.host && cookie.path === path)
      if (index !== -1) this.cookies.splice(index, 1)
      this.cookies.push({ name, value: pair.slice(eq + 1), host: url.host, path })
    }
  }

  async get (target: string): Promise<Response> {
    return this.send(target, 'GET')
  }

  async post (target: string, form: Record<string, string>): Promise<Response> {
    return this.send(target, 'POST', new URLSearchParams(form).toString())
  }

  private async send (target: string, method: 'GET' | 'POST', body?: string): Promise<Response> {
    const url = new URL(target)
    const cookie = this.cookieHeader(url)
    const headers: Record<string, string> = {
      ...(cookie === undefined ? {} : { cookie }),
      ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' })
    }
    const response = await request(url, { method, headers, body })
    this.remember(url, response.headers['set-cookie'])
    const location = response.headers.location
    return {
      status: response.statusCode,
      headers: response.headers,
      location: typeof location === 'string' ? new URL(location, url).toString() : null,
      body: await response.body.text()
    }
  }
}

export interface FlowRequest {
  flow: 'mp' | 'web'
  scope?: string
  returnTo?: string
  display?: 'popup'
}

export function authorizeUrl (app: TestApp, { flow, scope, returnTo = `${SITE}/account/welcome?from=wechat`, display }: FlowRequest): string {
  const query = new URLSearchParams({ flow, ...(scope === undefined ? {} : { scope }), return_to: returnTo, ...(display === undefined ? {} : { display }) })
  return `${app.url}/auth/wechat/authorize?${query.toString()}`
}

/** The consent form's fields, as the page renders them (hidden inputs). */
export function formFields (html: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[match[1] ?? ''] = (match[2] ?? '').replace(/&#(\d+);/g, (_all, code: string) => String.fromCharCode(Number(code)))
  }
  return fields
}

export interface Authorized {
  /** WeChat's redirect to our callback (with code and state). */
  callback: string
  /** Where our authorize route sent the browser (WeChat's authorize page). */
  wechatUrl: URL
}

/**
 * Authorize, then WeChat's page: snsapi_base comes straight back; otherwise the consent page is
 * answered as `openid` (the first test user by default). Stops at WeChat's redirect to our callback.
 */
export async function authorizeAs (browser: Browser, app: TestApp, flow: FlowRequest, { openid, snapshot = false, decline = false }: { openid?: string, snapshot?: boolean, decline?: boolean } = {}): Promise<Authorized> {
  const started = await browser.get(authorizeUrl(app, flow))
  if (started.status !== 302 || started.location === null) throw new Error(`authorize answered ${started.status}: ${started.body}`)
  const wechatUrl = new URL(started.location)
  const page = await browser.get(wechatUrl.toString())
  if (page.status === 302 && page.location !== null) return { callback: page.location, wechatUrl }
  if (page.status !== 200) throw new Error(`WeChat's authorize page answered ${page.status}: ${page.body}`)
  const fields = formFields(page.body)
  const chosen = openid ?? /name="openid" value="([^"]+)" checked/.exec(page.body)?.[1] ?? ''
  const consent = await browser.post(wechatUrl.toString().split('?')[0] ?? '', {
    ...fields,
    openid: chosen,
    decision: decline ? 'deny' : 'allow',
    ...(snapshot ? { snapshot: '1' } : {})
  })
  if (consent.status !== 302 || consent.location === null) throw new Error(`consent answered ${consent.status}: ${consent.body}`)
  return { callback: consent.location, wechatUrl }
}

export interface EmulatorUser {
  openid: string
  unionid: string | null
  nickname: string
  following: boolean
}

export async function emulatorUsers (app: TestApp): Promise<EmulatorUser[]> {
  const { users } = await (await fetch(`${app.url}/_emulator/_control/users`)).json() as { users: EmulatorUser[] }
  return users
}

export async function oauthCounters (app: TestApp): Promise<Record<string, number>> {
  return await (await fetch(`${app.url}/_emulator/_control/oauth/counters`)).json() as Record<string, number>
}

export async function control (app: TestApp, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`${app.url}/_emulator/_control/oauth/${path}`, {
    method: 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  await response.body?.cancel()
  return response.status
}

/** The refusal a page names in its <meta name="wechat-login-error">. */
export function refusalOf (html: string): string | null {
  return /<meta name="wechat-login-error" content="([^"]+)">/.exec(html)?.[1] ?? null
}

/** The popup page's data block. */
export function popupData (html: string): { targetOrigin: string, message: { type: string, code: string }, fallback: string } {
  const json = /<script type="application\/json" id="wechat-login">([^<]*)<\/script>/.exec(html)?.[1]
  if (json === undefined) throw new Error('no wechat-login data in the page')
  return JSON.parse(json) as { targetOrigin: string, message: { type: string, code: string }, fallback: string }
}
