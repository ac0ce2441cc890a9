import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build } from '../helper.js'

const committed = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'openapi.json'), 'utf8')) as OpenApiDocument

interface Operation {
  summary?: string
  tags?: string[]
  responses: Record<string, { description: string, content?: unknown }>
}
interface OpenApiDocument {
  openapi: string
  tags: Array<{ name: string }>
  paths: Record<string, Record<string, Operation>>
}

/** What mounts every route: OAuth configured (its routes exist only then). */
const OAUTH_ENV = { ALLOWED_RETURN_ORIGINS: 'https://shop.example.com', TOKEN_ENC_KEY: randomBytes(32).toString('base64') }

async function served (url: string): Promise<OpenApiDocument> {
  const response = await fetch(`${url}/docs/json`)
  if (response.status !== 200) throw new Error(`GET /docs/json answered ${response.status}`)
  return await response.json() as OpenApiDocument
}

t.test('the served document is the committed openapi.json (npm run openapi writes it)', async (t) => {
  const app = await build(t, { env: OAUTH_ENV })
  t.same(await served(app.url), committed, 'run `npm run openapi` after changing a route\'s schema, and commit openapi.json')
})

t.test('the emulator\'s routes are not in it: the same document with WECHAT_EMULATOR=1', async (t) => {
  const app = await build(t, { env: { ...OAUTH_ENV, WECHAT_EMULATOR: '1' } })
  const document = await served(app.url)
  t.same(Object.keys(document.paths).filter((path) => path.startsWith('/_emulator')), [])
  t.same(document, committed)
})

t.test('every operation says what it is, under a declared tag, and what it answers', async (t) => {
  const tags = new Set(committed.tags.map((tag) => tag.name))
  const operations = Object.entries(committed.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })))
  t.ok(operations.length >= 13, `${operations.length} operations`)
  for (const { name, operation } of operations) {
    t.ok((operation.summary ?? '').length > 10, `${name} has a summary`)
    t.ok(operation.tags?.length === 1 && tags.has(operation.tags[0] ?? ''), `${name} has one declared tag`)
    // Without a response schema the document says only "200: Default Response", with no content.
    t.ok(Object.values(operation.responses).some((response) => response.content !== undefined), `${name} declares what it answers`)
  }
  for (const path of ['/api/login/qr', '/api/login/ws', '/api/login/exchange', '/wechat/webhook', '/auth/wechat/callback', '/metrics', '/readyz']) {
    t.ok(committed.paths[path] !== undefined, `${path} is documented`)
  }
})

t.test('/docs is served under the app\'s CSP: scripts from \'self\' only, no inline script', async (t) => {
  const app = await build(t)
  for (const path of ['/docs', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js']) {
    const response = await fetch(`${app.url}${path}`)
    t.equal(response.status, 200, `${path} is served`)
    const csp = response.headers.get('content-security-policy') ?? ''
    t.match(csp, /(^|;)script-src 'self'(;|$)/, `${path}: script-src 'self'`)
    t.notMatch(csp, 'unsafe-inline', `${path}: nothing inline`)
    t.notMatch(csp, 'unsafe-eval', `${path}: no eval`)
    await response.arrayBuffer()
  }
  const page = await (await fetch(`${app.url}/docs`)).text()
  t.notMatch(page, /<script(?![^>]*\ssrc=)[^>]*>/, 'the page has no inline script')
})
