import t from 'tap'
import { scanDedupKey, toScanJob } from '../../src/jobs/definitions.js'
import { toWeChatMessage, type WeChatMessage } from '../../src/wechat/events.js'
import { XML_PARSER_OPTIONS, XmlError, parseXml } from '../../src/wechat/xml.js'
import { loadWeChatVectors } from '../fixtures/wechat-vectors.js'

const vectors = loadWeChatVectors()

function messageOf (xml: string): WeChatMessage | null {
  return toWeChatMessage(parseXml(xml))
}

function plain (message: WeChatMessage | null): Record<string, string> | null {
  return message === null ? null : { ...message }
}

function xmlRefusal (run: () => unknown): XmlError {
  try {
    run()
  } catch (error) {
    if (error instanceof XmlError) return error
    throw error
  }
  throw new Error('expected an XmlError')
}

const envelope = (inner: string) =>
  `<xml><ToUserName><![CDATA[gh_1a2b3c4d5e6f]]></ToUserName><FromUserName><![CDATA[oABC]]></FromUserName><CreateTime>1718000000</CreateTime>${inner}</xml>`

t.test('the parser configuration is the documented one', async (t) => {
  t.strictSame({ ...XML_PARSER_OPTIONS }, {
    ignoreAttributes: true,
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: false,
    htmlEntities: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    trimValues: true
  })
  t.ok(Object.isFrozen(XML_PARSER_OPTIONS), 'shared, so nobody can switch entity processing back on')
})

t.test('every events vector parses to exactly its strings and yields its scene', async (t) => {
  t.ok(vectors.events.length >= 9)
  for (const v of vectors.events) {
    const message = messageOf(v.xml)
    t.strictSame(plain(message), v.expected, `${v.id}: fields`)
    if (message === null) continue
    t.equal(Object.getPrototypeOf(message), null, `${v.id}: no inherited fields`)
    const job = toScanJob(message)
    t.equal(job?.scene ?? null, v.derived.scene, `${v.id}: scene`)
    if (job !== null) {
      t.equal(job.event, v.derived.kind === 'qr-subscribe' ? 'subscribe' : 'SCAN', `${v.id}: event`)
      t.equal(job.openid, v.expected.FromUserName)
      t.equal(job.createTime, v.expected.CreateTime)
      // The vectors' key shows WeChat's documented fields; ours adds Event (subscribe and SCAN in one second).
      t.ok(scanDedupKey(job).startsWith(`${v.derived.dedupKey}:`), `${v.id}: dedup key built on FromUserName + CreateTime`)
    } else {
      t.ok(['message', 'subscribe', 'unsubscribe'].includes(v.derived.kind), `${v.id}: not a QR scan`)
    }
  }
})

t.test('E3: CDATA verbatim, entities untouched, MsgId beyond 2^53 kept as its digits', async (t) => {
  const e3 = vectors.events.find((v) => v.id.startsWith('E3-'))
  if (e3 === undefined) throw new Error('vector E3 missing')
  const message = messageOf(e3.xml)
  t.equal(message?.Content, '你好，我要登录 <b>&amp;</b> 😀')
  t.equal(message?.MsgId, '6054768590064713728')
  t.not(message?.MsgId, e3.derived.msgIdAsJsNumber, 'not the Number() round trip')
  t.notOk(message !== null && '#text' in message, 'indentation between elements is not a field')
})

t.test('CDATA keeps its whitespace; plain text is trimmed', async (t) => {
  const message = messageOf(envelope('<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[  two spaces\n]]></Content><Extra>  x  </Extra>'))
  t.equal(message?.Content, '  two spaces\n')
  t.equal(message?.Extra, 'x')
})

t.test('numeric-looking values stay strings', async (t) => {
  const values = ['0123', '6054768590064713728', '1e3', '0x1F', '-0', '1.50', 'true', 'null', 'NaN', 'Infinity', '00']
  const inner = values.map((value, i) => `<V${i}>${value}</V${i}>`).join('')
  const message = messageOf(envelope(`<MsgType>event</MsgType><Event>SCAN</Event><EventKey>0123</EventKey>${inner}`))
  if (message === null) throw new Error('not parsed as a message')
  values.forEach((value, i) => t.equal(message[`V${i}`], value, value))
  t.equal(message.CreateTime, '1718000000')
  t.equal(toScanJob(message)?.scene, '0123')
})

t.test('entities are not expanded outside CDATA either', async (t) => {
  const message = messageOf(envelope('<MsgType>text</MsgType><Content>a &amp; b &lt;c&gt; &#x41;&#66; &quot;&apos; &nbsp; &copy;</Content>'))
  t.equal(message?.Content, 'a &amp; b &lt;c&gt; &#x41;&#66; &quot;&apos; &nbsp; &copy;')
})

t.test('DTDs are refused: DOCTYPE, ENTITY, entity expansion attacks', async (t) => {
  const bodies = [
    '<!DOCTYPE xml [<!ENTITY e "expanded">]><xml><MsgType>&e;</MsgType></xml>',
    '<?xml version="1.0"?>\n<!doctype xml><xml><a>1</a></xml>',
    '<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><a>1</a></xml>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml><a>&lol2;</a></xml>',
    '<!ENTITY e "x"><xml><a>&e;</a></xml>',
    '<!-- comment --><!DOCTYPE xml><xml><a>1</a></xml>',
    '<xml><![CDATA[x]]><!ELEMENT a ANY><a>1</a></xml>'
  ]
  for (const body of bodies) {
    const error = xmlRefusal(() => parseXml(body))
    t.equal(error.reason, 'dtd', body.slice(0, 40))
    t.notOk(error.message.includes('passwd') || error.message.includes('expanded'), 'the message does not quote the body')
  }
  // The same words as text inside CDATA or a comment are content, not markup.
  const quoted = messageOf(envelope('<MsgType>text</MsgType><Content><![CDATA[<!DOCTYPE x [<!ENTITY e "y">]>]]></Content><!-- <!DOCTYPE -->'))
  t.equal(quoted?.Content, '<!DOCTYPE x [<!ENTITY e "y">]>')
})

t.test('invalid XML is an XmlError, never another exception', async (t) => {
  const invalid: Array<[string, string]> = [
    ['', 'invalid'],
    ['success', 'invalid'],
    ['{"xml":1}', 'invalid'],
    ['<xml><a>1</a>', 'invalid'],
    ['<xml><a>1</b></xml>', 'invalid'],
    ['<xml><a>1 < 2</a></xml>', 'invalid'],
    ['<xml><![CDATA[never closed</xml>', 'invalid'],
    ['<xml><!-- never closed</xml>', 'invalid'],
    ['<xml><a>1</a></xml><xml><a>2</a></xml>', 'invalid'],
    ['<xml><a>1</a></xml>text', 'invalid'],
    // The validator lets a second root through when its name differs: parseXml catches it.
    ['<xml><a>1</a></xml><other/>', 'root'],
    [`${'<a>'.repeat(5000)}x${'</a>'.repeat(5000)}`, 'invalid']
  ]
  for (const [body, reason] of invalid) {
    t.equal(xmlRefusal(() => parseXml(body)).reason, reason, JSON.stringify(body.slice(0, 40)))
  }
  t.equal(xmlRefusal(() => parseXml(undefined as unknown as string)).reason, 'invalid')
})

t.test('__proto__ and constructor tags pollute nothing and add no inherited field', async (t) => {
  const bodies = [
    envelope('<MsgType>text</MsgType><__proto__><polluted>yes</polluted></__proto__>'),
    envelope('<MsgType>text</MsgType><__proto__>yes</__proto__>'),
    envelope('<MsgType>text</MsgType><constructor><prototype><polluted>yes</polluted></prototype></constructor>'),
    '<__proto__><MsgType>text</MsgType><FromUserName>o</FromUserName><ToUserName>gh</ToUserName><polluted>yes</polluted></__proto__>',
    '<xml><__proto__><MsgType>text</MsgType><FromUserName>o</FromUserName><ToUserName>gh</ToUserName></__proto__></xml>'
  ]
  for (const body of bodies) {
    const parsed = parseXml(body)
    const message = toWeChatMessage(parsed)
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
    t.equal(({} as Record<string, unknown>).MsgType, undefined)
    if (message !== null) {
      t.equal(Object.getPrototypeOf(message), null)
      t.notOk(Object.prototype.hasOwnProperty.call(message, '__proto__'), 'no own __proto__ field')
    }
  }
  // A nested __proto__ is a structure, so the body is not a WeChat message at all.
  t.equal(toWeChatMessage(parseXml(bodies[0] ?? '')), null)
  t.equal(toWeChatMessage(parseXml(bodies[4] ?? '')), null)
  t.equal(toWeChatMessage(parseXml(bodies[3] ?? '')), null, 'the root must be <xml>')

  // A flat <constructor> is just a field: the message still answers only its own keys.
  const message = messageOf(envelope('<MsgType>text</MsgType><constructor>c</constructor>'))
  t.equal(message?.constructor, 'c')
  t.equal((message as Record<string, unknown> | null)?.toString, undefined, 'no Object.prototype methods')
  t.equal((message as Record<string, unknown> | null)?.hasOwnProperty, undefined)
  const scan = messageOf(envelope('<MsgType>event</MsgType><Event>SCAN</Event><constructor>x</constructor>'))
  t.equal(scan === null ? 'no message' : toScanJob(scan), null, 'no inherited EventKey makes a scan')
})

t.test('what is not a WeChat push is null, not a half message', async (t) => {
  t.equal(messageOf('<xml><MsgType>text</MsgType></xml>'), null, 'no From/To')
  t.equal(messageOf(envelope('')), null, 'no MsgType')
  t.equal(messageOf(envelope('<MsgType>text</MsgType><Content><b>nested</b></Content>')), null, 'nested where text is expected')
  t.equal(messageOf('<other><MsgType>text</MsgType></other>'), null, 'another root')
  t.equal(messageOf('<xml>text</xml>'), null, 'a text root')
})

t.test('replies R1 and R2 parse with the same configuration', async (t) => {
  for (const reply of vectors.replies) {
    const parsed = parseXml(reply.xml) as { xml: Record<string, string> }
    const { decrypted, ...fields } = reply.expected
    t.strictSame({ ...parsed.xml }, fields, reply.id)
    t.type(decrypted, reply.id.startsWith('R2') ? 'string' : 'undefined')
  }
})
