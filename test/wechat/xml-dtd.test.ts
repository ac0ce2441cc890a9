/**
 * hasDtdMarkup walks the markup in document order: a processing instruction, a comment or CDATA is
 * read whole, as the parser reads it, so none of them can hide a DOCTYPE that follows; and a DOCTYPE
 * inside a processing instruction is refused too.
 */
import t from 'tap'
import { hasDtdMarkup, parseXml, XmlError } from '../../src/wechat/xml.js'
import { scanXml, signedQuery } from '../fixtures/webhook.js'
import { build } from '../helper.js'

const SCENE = 'P'.repeat(32)
const DOCTYPE = '<!DOCTYPE xml [<!ENTITY a "b">]>'

t.test('a DOCTYPE after a processing instruction that opens a comment or CDATA is found', async (t) => {
  const hidden = [
    `<?xml version="1.0"?><?x <!-- ?>${DOCTYPE}${scanXml(SCENE)}<!-- -->`,
    `<?x <![CDATA[ ?>${DOCTYPE}${scanXml(SCENE)}<!-- ]]> -->`,
    `<?x-stylesheet href="<!--"?>${DOCTYPE}<xml><a>1</a></xml><!--x-->`
  ]
  for (const text of hidden) {
    t.ok(hasDtdMarkup(text), text.slice(0, 40))
    t.throws(() => parseXml(text), XmlError, 'and parseXml refuses it')
  }
})

t.test('what the parser skips whole stays skipped', async (t) => {
  t.notOk(hasDtdMarkup(`<?xml version="1.0"?><xml><Content><![CDATA[${DOCTYPE}]]></Content></xml>`), 'a DOCTYPE quoted in CDATA')
  t.notOk(hasDtdMarkup(`<xml><!-- ${DOCTYPE} --><a>1</a></xml>`), 'or in a comment')
  t.ok(hasDtdMarkup(`<?pi ${DOCTYPE} ?><xml><a>1</a></xml>`), 'a declaration inside a processing instruction is refused all the same')
  t.notOk(hasDtdMarkup('<?xml version="1.0" encoding="utf-8"?><xml><a>1</a></xml>'), 'the XML declaration is fine')
  t.notOk(hasDtdMarkup('<xml><a>1 < 2</a></xml>'), 'a bare "<" is not markup to refuse')
  t.ok(hasDtdMarkup(`<xml><a><![CDATA[x]]></a></xml>${DOCTYPE}`), 'after a closed CDATA the scan goes on')
  t.ok(hasDtdMarkup(`<xml><a><![CDATA[never closed ${DOCTYPE}`), 'an unterminated section hides nothing')
})

t.test('the webhook refuses it: 400 forbidden_markup, nothing queued', async (t) => {
  const app = await build(t, { env: { RUN_WORKER: '0' } })
  const response = await fetch(`${app.url}/wechat/webhook?${signedQuery()}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: `<?x <!-- ?>${DOCTYPE}${scanXml(SCENE)}<!-- -->`
  })
  t.equal(response.status, 400)
  t.same(await response.json(), { error: 'forbidden_markup' })
})
