import t from 'tap'
import { signatureMatches, verifyRequestSignature, wechatSignature } from '../../src/wechat/signature.js'
import { loadWeChatVectors } from '../fixtures/wechat-vectors.js'

const vectors = loadWeChatVectors()

t.test('every signature vector gets its expected verdict', async (t) => {
  t.ok(vectors.signature.length >= 10)
  for (const v of vectors.signature) {
    const query = { signature: v.signature, timestamp: v.timestamp, nonce: v.nonce }
    const accepted = verifyRequestSignature(v.token, query)
    t.equal(accepted ? 'accept' : 'reject', v.expected, v.id)
    t.equal(wechatSignature([v.token, v.timestamp, v.nonce]) === v.signature, v.expected === 'accept', `${v.id}: computed signature`)
  }
})

t.test('every msgSignature vector, and the msg_signature of every aes and negative vector', async (t) => {
  for (const v of vectors.msgSignature) {
    const matches = signatureMatches(wechatSignature([v.token, v.timestamp, v.nonce, v.encrypt]), v.msgSignature)
    t.equal(matches ? 'accept' : 'reject', v.expected, v.id)
  }
  for (const v of vectors.aes) {
    t.equal(wechatSignature([v.token, v.timestamp, v.nonce, v.encrypt]), v.msgSignature, v.id)
  }
  // These are signed correctly by design: they must fail later, at a decryption stage.
  for (const v of vectors.negative.filter((n) => n.rejectAt !== 'signature' && !n.rejectAt.startsWith('signature|'))) {
    t.equal(wechatSignature([v.token, v.timestamp, v.nonce, v.encrypt]), v.msgSignature, v.id)
  }
})

t.test('the parts are sorted as strings by code unit, whatever their role', async (t) => {
  const [s5] = vectors.signature.filter((v) => v.id.startsWith('S5-'))
  if (s5 === undefined) throw new Error('vector S5 missing')
  const expected = s5.signature
  t.equal(wechatSignature([s5.nonce, s5.token, s5.timestamp]), expected, 'argument order does not matter')
  t.equal(wechatSignature([s5.timestamp, s5.nonce, s5.token]), expected)
})

t.test('a query that is not three strings is refused, not thrown on', async (t) => {
  const [s1] = vectors.signature
  if (s1 === undefined) throw new Error('vector S1 missing')
  const good = { signature: s1.signature, timestamp: s1.timestamp, nonce: s1.nonce }
  t.equal(verifyRequestSignature(s1.token, good), true)
  // A repeated query parameter arrives as an array.
  t.equal(verifyRequestSignature(s1.token, { ...good, signature: [s1.signature, s1.signature] }), false)
  t.equal(verifyRequestSignature(s1.token, { ...good, timestamp: [s1.timestamp] }), false)
  t.equal(verifyRequestSignature(s1.token, { ...good, nonce: undefined }), false)
  t.equal(verifyRequestSignature(s1.token, { timestamp: s1.timestamp, nonce: s1.nonce }), false)
  t.equal(verifyRequestSignature(s1.token, { ...good, signature: '' }), false)
  t.equal(verifyRequestSignature(s1.token, { ...good, signature: `${s1.signature}00` }), false, 'longer signature')
  t.equal(verifyRequestSignature(s1.token, { ...good, signature: s1.signature.slice(0, -1) }), false, 'shorter signature')
  t.equal(verifyRequestSignature(`${s1.token}x`, good), false, 'another token')
})
