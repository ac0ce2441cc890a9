import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'
import { allowedOrigins } from '../../src/config.js'

/**
 * Security headers with a CSP the login page passes (no inline script or style). The page may be
 * opened as a popup by the application's site, so the opener must survive: COOP stays unsafe-none.
 */
export default fp(async function helmetPlugin (fastify) {
  const { config, endpoints } = fastify
  const https = config.PUBLIC_URL.startsWith('https:')
  await fastify.register(helmet, {
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
}, { name: 'helmet', fastify: '5.x', dependencies: ['config', 'endpoints'] })

/** Older browsers do not match ws:/wss: with 'self'. */
function websocketOrigins (publicUrl: string): string[] {
  const url = new URL(publicUrl)
  return [`${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}`]
}
