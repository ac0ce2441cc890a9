import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import { EMULATOR_PREFIX } from '../../src/wechat/endpoints.js'

/** dist/plugins/external → the project root. */
const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }

/**
 * The OpenAPI document of every route registered after this plugin, built from the routes' own
 * schemas (served at /docs/json, written to openapi.json by `npm run openapi`). Nothing in it comes
 * from the configuration, so every instance serves the same document for the same routes (no
 * `servers`: it is wherever you read it). The emulator's routes are WeChat's, not ours: hidden.
 */
export default fp(async function swaggerPlugin (fastify) {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wechat-qr-login',
        version,
        description: 'Self-hosted WeChat login: follow-scan QR login over WebSocket, and WeChat OAuth2. ' +
          'Routes under /auth/wechat and /api/users exist only when OAuth is configured.'
      },
      tags: [
        { name: 'login', description: 'The login page\'s API (browsers) and the code exchange (your backend)' },
        { name: 'oauth', description: 'WeChat OAuth2: the visitor\'s pages (HTML and redirects, not JSON)' },
        { name: 'users', description: 'Your backend asks about users who logged in with OAuth' },
        { name: 'wechat', description: 'What WeChat calls: the signed webhook' },
        { name: 'operations', description: 'Health, readiness and metrics' }
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'API_KEY: your backend only' },
          browserSecret: { type: 'http', scheme: 'bearer', description: 'The `secret` POST /api/login/qr gave the page that created the login' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when set' }
        }
      }
    },
    transform ({ schema, url, route }) {
      if (url.startsWith(EMULATOR_PREFIX)) return { schema: { ...schema, hide: true }, url }
      // @fastify/websocket hides its routes; the login socket is ours to document (a GET that upgrades).
      if (route.websocket === true) return { schema: { ...schema, hide: false }, url }
      return { schema, url }
    }
  })
}, { name: 'swagger', fastify: '5.x' })
