import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import { allowedOrigins } from '../../src/config.js'

/**
 * Security headers with a CSP the login page passes (no inline script or style). The page may be
 * opened as a popup by the application's site, so the opener must survive: COOP stays unsafe-none.
 *
 * helmet's headers depend only on these options, so they are computed once at boot and the same
 * strings are set on every response (@fastify/helmet rebuilt helmet, the CSP included, on every
 * request: a tenth of the webhook's CPU at a few thousand pushes a second). A WebSocket upgrade
 * gets none: a 101 has no document for them to protect, and every socket would keep them. Nor does
 * a route that says `securityHeaders: false` (WeChat's webhook: a server reads it, not a browser).
 */
export default fp(async function helmetPlugin (fastify) {
  const { config, endpoints } = fastify
  const https = config.PUBLIC_URL.startsWith('https:')
  const headers = helmetHeaders({
    crossOriginOpenerPolicy: { policy: 'unsafe-none' },
    // The QR image fallback and the emulator's pages are served from other origins in some setups.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    strictTransportSecurity: https ? { maxAge: 15552000 } : false,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', new URL(endpoints.mpBase).origin],
        connectSrc: ["'self'", ...websocketOrigins(config.PUBLIC_URL)],
        formAction: ["'self'"],
        // The sites allowed to use the login may also frame it.
        frameAncestors: ["'self'", ...allowedOrigins(config)],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        ...(https ? { upgradeInsecureRequests: [] } : {})
      }
    }
  })
  fastify.addHook('onRequest', (request, reply, done) => {
    // Node's parser sets `upgrade` (not in @types/node 20) on a request answered by an upgrade.
    if (request.routeOptions.config.securityHeaders !== false && (request.raw as { upgrade?: boolean }).upgrade !== true) reply.headers(headers)
    done()
  })
}, { name: 'helmet', fastify: '5.x', dependencies: ['config', 'endpoints'] })

/** Runs helmet's middleware once against a recorder: the headers it would set on any response. */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader (name: string, value: string | number) { headers[name.toLowerCase()] = String(value) },
    removeHeader (name: string) { delete headers[name.toLowerCase()] }
  }
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error !== undefined && error !== null) throw error
  })
  return Object.freeze(headers)
}

/** Older browsers do not match ws:/wss: with 'self'. */
function websocketOrigins (publicUrl: string): string[] {
  const url = new URL(publicUrl)
  return [`${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}`]
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: a route no browser reads (WeChat's webhook) gets no security headers. */
    securityHeaders?: boolean
  }
}
