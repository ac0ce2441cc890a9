/**
 * `npm run openapi`: writes openapi.json at the project's root, the OpenAPI document every instance
 * serves at /docs/json (test/routes/openapi.test.ts checks that the two agree). Built from the routes'
 * own schemas by an app that mounts them all (OAuth configured, embedded mode, nothing listening);
 * the configuration's values never reach the document.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify from 'fastify'
import app from './app.js'
import { loadConfig } from './config.js'

export const OPENAPI_FILE = join(import.meta.dirname, '..', '..', 'openapi.json')

const config = loadConfig({
  WECHAT_APP_ID: 'wxopenapi0000000',
  WECHAT_APP_SECRET: 'openapi-app-secret',
  WECHAT_TOKEN: 'openapitoken',
  API_KEY: randomBytes(16).toString('hex'),
  // Only what mounts the OAuth routes: /auth/wechat and /api/users are documented too.
  ALLOWED_RETURN_ORIGINS: 'https://www.example.com',
  TOKEN_ENC_KEY: randomBytes(32).toString('base64'),
  LOG_LEVEL: 'warn'
})

const fastify = Fastify({ logger: { level: config.LOG_LEVEL } })
await fastify.register(app, { config })
// Exactly what an instance serves (the app is encapsulated: its decorators are not reachable from here).
const served = await fastify.inject({ method: 'GET', url: '/docs/json' })
await fastify.close()
if (served.statusCode !== 200) throw new Error(`GET /docs/json answered ${served.statusCode}`)
await writeFile(OPENAPI_FILE, `${JSON.stringify(served.json(), null, 2)}\n`)
console.log(`wrote ${OPENAPI_FILE}`)
