import { once } from 'node:events'
import { createServer } from 'node:net'
import t, { type Test } from 'tap'
import { listeningOrigin } from '../../src/util/listening-url.js'

async function listening (t: Test, host: string) {
  const server = createServer().listen(0, host)
  await once(server, 'listening')
  t.after(() => new Promise((resolve) => server.close(resolve)))
  return server
}

t.test('the origin this process reaches its own server at', async (t) => {
  const unbound = createServer()
  t.equal(listeningOrigin(unbound), null, 'nothing before it listens')

  const loopback = await listening(t, '127.0.0.1')
  t.equal(listeningOrigin(loopback), `http://127.0.0.1:${(loopback.address() as { port: number }).port}`)

  const wildcard = await listening(t, '0.0.0.0')
  t.equal(listeningOrigin(wildcard), `http://127.0.0.1:${(wildcard.address() as { port: number }).port}`, 'a wildcard bind is reached on loopback')

  // Written as node reports an IPv6 address, so the test does not depend on the machine having IPv6.
  t.equal(listeningOrigin({ address: () => ({ address: '::1', family: 'IPv6', port: 3000 }) }), 'http://[::1]:3000', 'IPv6 in brackets')
  t.equal(listeningOrigin({ address: () => '/tmp/app.sock' }), null, 'a pipe is no TCP origin')
})
