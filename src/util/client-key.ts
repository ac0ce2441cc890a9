import { isIPv4, isIPv6 } from 'node:net'

/**
 * Who a per-client limit counts: an IPv4 address as it is, an IPv6 address by its /64. A single
 * IPv6 host is routinely given a whole /64 (2^64 addresses), so counting addresses would hand it
 * a fresh budget per request; a /64 is the smallest block an ISP gives one customer. An IPv4
 * address inside IPv6 (::ffff:a.b.c.d, how a dual-stack socket reports IPv4 clients) is that IPv4
 * address. Anything that is not an IP address (a misconfigured proxy's header) is kept verbatim.
 */
export function clientKey (address: string): string {
  const bare = address.replace(/%.*$/, '')
  if (isIPv4(bare)) return bare
  if (!isIPv6(bare)) return address
  const groups = ipv6Groups(bare)
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6)
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`
}

/** The eight 16-bit groups of a valid IPv6 address (net.isIPv6 said so), `::` and a dotted tail expanded. */
function ipv6Groups (address: string): number[] {
  let text = address
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (isIPv4(tail)) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number)
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', rest] = text.split('::')
  const split = (part: string) => part === '' ? [] : part.split(':')
  const before = split(head)
  const after = rest === undefined ? [] : split(rest)
  const zeros = rest === undefined ? [] : Array.from({ length: 8 - before.length - after.length }, () => '0')
  return [...before, ...zeros, ...after].map((group) => parseInt(group, 16))
}
