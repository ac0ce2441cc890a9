import { once } from 'node:events'
import { createServer, request as httpRequest } from 'node:http'
import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { counters, createLoginQr, startInstances, startTokenEmulator } from './token-fixtures.js'

interface ForwardProxy {
  url: string
  /** host:port of each CONNECT tunnel opened. */
  tunnels: string[]
  /** Absolute-form requests forwarded (plain-HTTP proxying). */
  forwarded: string[]
  /** The Proxy-Authorization header of each of them. */
  credentials: Array<string | undefined>
}

/** A real forward proxy on a real socket: CONNECT tunnels and absolute-form requests, counted. */
async function startForwardProxy (t: Test): Promise<ForwardProxy> {
  const proxy: ForwardProxy = { url: '', tunnels: [], forwarded: [], credentials: [] }
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)) }
  const server = createServer((request, response) => {
    proxy.forwarded.push(request.url ?? '')
    proxy.credentials.push(request.headers['proxy-authorization'])
    const target = new URL(request.url ?? '')
    const upstream = httpRequest(target, { method: request.method, headers: { ...request.headers, host: target.host } }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    upstream.on('error', () => response.destroy())
    request.pipe(upstream)
  })
  server.on('connection', track)
  server.on('connect', (request, client: Socket, head: Buffer) => {
    proxy.tunnels.push(request.url ?? '')
    proxy.credentials.push(request.headers['proxy-authorization'])
    const { hostname, port } = new URL(`http://${request.url ?? ''}`)
    const upstream = connect(Number(port), hostname, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    track(upstream)
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return proxy
}

t.test('HTTPS_PROXY: every WeChat call goes through the proxy, 10 logins over 1 kept-alive tunnel (1 CONNECT)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const proxy = await startForwardProxy(t)
  const withCredentials = proxy.url.replace('http://', 'http://egress:proxy-pass@')
  const { apps } = await startInstances(t, emulator, 1, { HTTPS_PROXY: withCredentials })
  const [app] = apps

  for (let i = 0; i < 10; i++) t.equal((await createLoginQr(app!)).status, 201, `login ${i + 1}`)
  t.match(counters(emulator), { tokenFetches: 1, qrCreates: 10 }, 'WeChat saw the 11 calls')
  t.same(proxy.tunnels, [new URL(emulator.url).host], 'one CONNECT tunnel to WeChat\'s host, kept alive for all 11')
  t.same(proxy.forwarded, [], 'nothing proxied in the clear')
  t.equal(proxy.credentials[0], `Basic ${Buffer.from('egress:proxy-pass').toString('base64')}`, 'the proxy URL\'s credentials go to the proxy')
  t.ok(app!.logs.some((line) => line.includes('WeChat calls go through HTTPS_PROXY') && line.includes(new URL(proxy.url).host)), 'the proxy is logged at boot')
  t.notOk(app!.logs.some((line) => line.includes('proxy-pass')), 'its password is not')
})

t.test('HTTPS_PROXY unreachable → WeChat calls fail: none bypasses the proxy (tokenFetches 0)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const closed = createServer().listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const { port } = closed.address() as { port: number }
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const { apps } = await startInstances(t, emulator, 1, { HTTPS_PROXY: `http://127.0.0.1:${port}`, WECHAT_RETRY_DEADLINE_MS: '0' })

  t.match(await createLoginQr(apps[0]!), { status: 502, body: { error: 'wechat_unreachable' } })
  t.equal(counters(emulator).tokenFetches, 0, 'WeChat never heard from us')
})
