/**
 * The bundled nginx (docker-compose.yml) logs requests without their query: a signed webhook URL
 * is a credential for its timestamp window, an OAuth callback's query holds a code and a state.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const compose = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docker-compose.yml'), 'utf8')
// The nginx configuration inlined under `configs:`, with compose's $$ escapes undone.
const nginx = (/^ {2}nginx:\n {4}content: \|\n((?: {6}.*\n|\n)+)/m.exec(compose)?.[1] ?? '').replace(/\$\$/g, '$')

t.test('access logs carry the path, never the query', async (t) => {
  t.match(nginx, /server \{/, 'the nginx configuration was found')
  const formats = [...nginx.matchAll(/log_format\s+(\S+)\s+((?:'[^']*'\s*)+);/g)]
  t.equal(formats.length, 1, 'one log format of our own')
  const [, name = '', format = ''] = formats[0] ?? []
  for (const variable of ['$request ', '$request"', '$request_uri', '$args', '$query_string', '$arg_']) {
    t.notOk(format.includes(variable), `the format has no ${variable.trim()}`)
  }
  t.match(format, /\$uri/, 'it logs the path')
  const accessLogs = [...nginx.matchAll(/access_log\s+([^;]+);/g)].map((match) => match[1]?.trim() ?? '')
  t.ok(accessLogs.length > 0, 'the server sets its access log')
  t.ok(accessLogs.every((entry) => entry === 'off' || entry.endsWith(` ${name}`)), `every access log uses ${name}`)
})
