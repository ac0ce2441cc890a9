import t from 'tap'
import { clientKey } from '../../src/util/client-key.js'

t.test('IPv4 counts by address', async (t) => {
  t.equal(clientKey('203.0.113.9'), '203.0.113.9')
  t.equal(clientKey('::ffff:203.0.113.9'), '203.0.113.9', 'as a dual-stack socket reports it: the same client, the same key')
  t.equal(clientKey('::ffff:cb00:7109'), '203.0.113.9', 'in hex too')
})

t.test('IPv6 counts by /64: a host rotating through its billions of addresses is one client', async (t) => {
  const key = '2001:db8:1:2::/64'
  for (const address of ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:DB8:1:2::a%eth0', '2001:db8:1:2::10.0.0.1']) {
    t.equal(clientKey(address), key, address)
  }
  t.equal(clientKey('2001:db8:1:3::1'), '2001:db8:1:3::/64', 'the neighbouring /64 is another client')
  t.equal(clientKey('::1'), '0:0:0:0::/64')
  t.equal(clientKey('fe80::1'), 'fe80:0:0:0::/64')
  t.equal(clientKey('1::'), '1:0:0:0::/64')
})

t.test('what is not an address is kept as it is', async (t) => {
  t.equal(clientKey('unknown'), 'unknown')
  t.equal(clientKey(''), '')
})
