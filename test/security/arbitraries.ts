import fc from 'fast-check'
import { Agent, request, type Dispatcher } from 'undici'

/** Strings an attacker (or a broken proxy) might put anywhere: unicode, binary, numbers-that-are-not, huge. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  {
    arbitrary: fc.constantFrom(
      '', ' ', '0', '-1', '0123', '1e10', 'NaN', 'Infinity', 'true', 'null', 'undefined', '__proto__', 'constructor', 'prototype',
      'hasOwnProperty', '%', '%zz', '%E4%B8', '%00', '\u0000', '\r\n', 'aes', 'raw', '[]', '{}', '<xml/>', '😀', '登录', '\uD800',
      'a'.repeat(2000), '9'.repeat(40), 'Bearer ', 'Bearer x', '../../etc/passwd', '$' + '{jndi:ldap://x}', "'; DROP TABLE x;--"
    ),
    weight: 2
  }
)

/** Lone surrogates become U+FFFD, as any UTF-8 encoder on the wire would do. */
export function wellFormed (text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8')
}

/** Percent-encodes what must be, leaves '%', '&', '=', '[', ']' and friends raw (so broken escapes reach the parser). */
export function rawQueryPart (text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    out += code <= 0x20 || code >= 0x7f || char === '#' ? encodeURIComponent(wellFormed(char)) : char
  }
  return out
}

export const queryPairs = (keys: readonly string[]): fc.Arbitrary<Array<[string, string]>> => fc.array(
  fc.tuple(fc.oneof(fc.constantFrom(...keys), hostileText), hostileText),
  { maxLength: 8 }
)

export function serializeQuery (pairs: ReadonlyArray<readonly [string, string]>, encode: boolean): string {
  return pairs.map(([key, value]) => encode
    ? `${encodeURIComponent(wellFormed(key))}=${encodeURIComponent(wellFormed(value))}`
    : `${rawQueryPart(key)}=${rawQueryPart(value)}`).join('&')
}

/** A header value undici will send (visible ASCII and spaces, no CR/LF). */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 }),
  fc.constantFrom('', 'Bearer', 'Bearer ', 'bearer abc', 'Basic Zm9vOmJhcg==', `Bearer ${'x'.repeat(600)}`, 'null', '0', '-1')
)

export const headerName: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), minLength: 1, maxLength: 20
}).filter((name) => !['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect', 'keep-alive', 'te', 'trailer'].includes(name))

export const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.oneof(headerName, fc.constantFrom('authorization', 'origin', 'cookie', 'content-encoding', 'accept', 'x-forwarded-for', 'x-forwarded-proto', 'accept-encoding', 'range')),
  headerValue,
  { maxKeys: 4 }
)

/** Random edits of a valid document: what a fuzzer's mutator does. */
export function mutated (base: string): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.constantFrom('delete', 'insert', 'duplicate', 'replace'), hostileText)
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let text = base
    for (const [position, length, kind, insert] of edits) {
      const at = text.length === 0 ? 0 : position % text.length
      if (kind === 'delete') text = text.slice(0, at) + text.slice(at + length)
      else if (kind === 'insert') text = text.slice(0, at) + insert + text.slice(at)
      else if (kind === 'duplicate') text = text.slice(0, at + length) + text.slice(at, at + length) + text.slice(at + length)
      else text = text.slice(0, at) + insert + text.slice(at + insert.length)
    }
    return text
  })
}

const tagName = fc.oneof(
  fc.constantFrom('xml', 'ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Event', 'EventKey', 'Ticket', 'Encrypt', 'MsgId', 'Content',
    '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '#text', 'a:b', '_', 'x-y'),
  fc.string({ unit: fc.constantFrom(...'abcXYZ_-.:0123456789'.split('')), minLength: 1, maxLength: 12 })
)

/** XML-ish documents built from random elements, nested a little, values in CDATA or not. */
export const randomXml: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(tagName, hostileText, fc.boolean()).map(([tag, value, cdata]) => `<${tag}>${cdata ? `<![CDATA[${value}]]>` : value}</${tag}>`),
    fc.tuple(tagName, fc.array(tie('node'), { maxLength: 5 })).map(([tag, children]) => `<${tag}>${children.join('')}</${tag}>`)
  )
})).node

/** Bodies that have broken XML parsers before: DTDs, entities, depth, size, encodings. */
export const nastyXml: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><xml><a>&a;</a></xml>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml>&lol2;</xml>',
    '<?xml version="1.0" encoding="GBK"?><xml><MsgType>text</MsgType></xml>',
    '<xml><![CDATA[unterminated', '<xml><!-- unterminated', '<xml>', '</xml>', '<xml/>', '<xml></xml><xml></xml>',
    '<xml a="1" a="2"></xml>', '<xml><MsgType>a</MsgType><MsgType>b</MsgType></xml>', '\uFEFF<xml></xml>', '<?xml?>', '<!>', '<![CDATA[]]>'
  ),
  fc.integer({ min: 1, max: 3000 }).map((depth) => `${'<a>'.repeat(depth)}x${'</a>'.repeat(depth)}`),
  fc.integer({ min: 1, max: 2000 }).map((count) => `<xml ${Array.from({ length: count }, (_, i) => `a${i}="${i}"`).join(' ')}></xml>`),
  fc.integer({ min: 60_000, max: 80_000 }).map((size) => `<xml><Content><![CDATA[${'x'.repeat(size)}]]></Content></xml>`)
)

export interface FuzzResponse {
  status: number
  body: string
}

/** One request; null when undici itself refused to send it (an invalid header we generated). */
export async function send (dispatcher: Dispatcher, origin: string, options: { method: string, path: string, headers?: Record<string, string>, body?: string | Uint8Array }): Promise<FuzzResponse | null> {
  try {
    const response = await request(`${origin}${options.path}`, {
      dispatcher,
      method: options.method as Dispatcher.HttpMethod,
      headers: options.headers ?? {},
      ...(options.body === undefined || options.method === 'GET' || options.method === 'HEAD' ? {} : { body: options.body })
    })
    return { status: response.statusCode, body: await response.body.text() }
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED' || error instanceof TypeError) return null
    throw error
  }
}

export function fuzzAgent (): Agent {
  return new Agent({ keepAliveTimeout: 30_000, connections: 4 })
}
