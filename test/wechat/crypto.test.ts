import { createCipheriv } from 'node:crypto'
import { inspect } from 'node:util'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import {
  CRYPTO_ERROR_CODES,
  WeChatCryptoError,
  createMessageCrypto,
  parseEncodingAesKey,
  type CryptoStage
} from '../../src/wechat/crypto.js'
import { toWeChatMessage } from '../../src/wechat/events.js'
import { verifyRequestSignature, wechatSignature } from '../../src/wechat/signature.js'
import { parseXml } from '../../src/wechat/xml.js'
import { loadWeChatVectors, rejectStages, type AesVector } from '../fixtures/wechat-vectors.js'

const vectors = loadWeChatVectors()

function byId<T extends { id: string }> (list: readonly T[], prefix: string): T {
  const found = list.find((v) => v.id.startsWith(`${prefix}-`))
  if (found === undefined) throw new Error(`vector ${prefix} missing`)
  return found
}

function refusal (run: () => unknown): WeChatCryptoError {
  let result: unknown
  try {
    result = run()
  } catch (error) {
    if (error instanceof WeChatCryptoError) return error
    throw error
  }
  throw new Error(`expected a WeChatCryptoError, got ${typeof result}`)
}

const EXPECTED_CODES: Record<CryptoStage, number> = {
  key: -40004,
  signature: -40001,
  base64: -40007,
  length: -40007,
  padding: -40007,
  msgLen: -40007,
  receiveId: -40005
}

function cryptoFor (v: Pick<AesVector, 'token' | 'encodingAESKey' | 'receiveId'>) {
  return createMessageCrypto({ token: v.token, encodingAesKey: v.encodingAESKey, appId: v.receiveId })
}

/** Secrets and plaintext must not leak through an error, whatever a logger does with it. */
function assertNothingSecret (t: Test, error: Error, secrets: readonly string[], label: string): void {
  const shown = `${inspect(error, { depth: 5, showHidden: true })}\n${JSON.stringify(error)}\n${String(error)}`
  for (const secret of secrets) {
    if (secret.length >= 4) t.notOk(shown.includes(secret), `${label}: error does not show a secret or plaintext`)
  }
  t.same(Object.keys(error).filter((k) => !['name', 'stage', 'code'].includes(k)), [], `${label}: no extra fields`)
}

// G1: the project's own safe-mode configuration, used for the crafted inputs below.
const g1 = byId(vectors.aes, 'G1')
const g1Key = Buffer.from(g1.aesKeyHex, 'hex')

/** Encrypts raw plaintext bytes the way WeChat does, without any of our checks (builds hostile input). */
function rawCiphertext (plaintext: Buffer): string {
  const cipher = createCipheriv('aes-256-cbc', g1Key, g1Key.subarray(0, 16)).setAutoPadding(false)
  return Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64')
}

/** Signs any Encrypt value with G1's token, so decryption gets past the signature check. */
function signedG1 (encrypt: string) {
  return { msgSignature: wechatSignature([g1.token, g1.timestamp, g1.nonce, encrypt]), timestamp: g1.timestamp, nonce: g1.nonce, encrypt }
}

t.test('parseEncodingAesKey', async (t) => {
  t.test('decodes every vector key, non-canonical last character included', async (t) => {
    const keys = new Map(vectors.aes.map((v) => [v.encodingAESKey, v]))
    t.ok([...keys.values()].some((v) => !v.keyIsCanonicalBase64), 'the vectors include non-canonical keys')
    for (const v of keys.values()) {
      const key = parseEncodingAesKey(v.encodingAESKey)
      t.equal(key.toString('hex'), v.aesKeyHex, v.id)
      // Re-encoding gives the key back only when it was canonical: never compare keys that way.
      t.equal(key.toString('base64').slice(0, 43) === v.encodingAESKey, v.keyIsCanonicalBase64, `${v.id}: canonical flag`)
    }
  })

  t.test('refuses anything but 43 characters of [A-Za-z0-9], without echoing it', async (t) => {
    const good = g1.encodingAESKey
    const bad = [
      '', good.slice(0, 42), `${good}A`, `${good}=`, `${good.slice(0, 42)}+`, `${good.slice(0, 42)}/`,
      `${good.slice(0, 42)}=`, ` ${good.slice(1)}`, `${good.slice(0, 42)}é`, `${good.slice(0, 41)}\n`, `${good.slice(0, 42)}\u0000`
    ]
    for (const key of bad) {
      const error = refusal(() => parseEncodingAesKey(key))
      t.equal(error.stage, 'key', JSON.stringify(key))
      t.equal(error.code, CRYPTO_ERROR_CODES.key)
      if (key.length > 4) assertNothingSecret(t, error, [key, key.slice(0, 20)], JSON.stringify(key))
    }
    t.throws(() => parseEncodingAesKey(42 as unknown as string), WeChatCryptoError)
  })

  t.test('createMessageCrypto fails at construction, not on the first message', async (t) => {
    t.throws(() => createMessageCrypto({ token: g1.token, encodingAesKey: 'short', appId: g1.receiveId }), WeChatCryptoError)
    t.throws(() => createMessageCrypto({ token: '', encodingAesKey: g1.encodingAESKey, appId: g1.receiveId }), TypeError)
    t.throws(() => createMessageCrypto({ token: g1.token, encodingAesKey: g1.encodingAESKey, appId: '' }), TypeError)
  })
})

t.test('every aes vector: decrypt gives the plaintext back, encrypt reproduces Encrypt', async (t) => {
  t.ok(vectors.aes.length >= 16)
  for (const v of vectors.aes) {
    const crypto = cryptoFor(v)
    t.equal(crypto.decrypt(v), v.plaintext, `${v.id}: decrypt`)

    const produced = crypto.encrypt(v.plaintext, { timestamp: v.timestamp, nonce: v.nonce, random: Buffer.from(v.randomHex, 'hex') })
    t.equal(produced.encrypt, v.encrypt, `${v.id}: encrypt with the published random`)
    t.equal(produced.msgSignature, v.msgSignature, `${v.id}: msg_signature`)

    // The layout behind it: 16 + 4 + msg (UTF-8 bytes) + receiveId + padding.
    const total = 20 + v.msgLenBytes + Buffer.byteLength(v.receiveId) + v.paddingLength
    t.equal(Buffer.from(v.encrypt, 'base64').length, total, `${v.id}: length accounts for msg_len and padding`)

    // The receiveId is checked, not just stripped.
    const otherApp = createMessageCrypto({ token: v.token, encodingAesKey: v.encodingAESKey, appId: `${v.receiveId}x` })
    t.equal(refusal(() => otherApp.decrypt(v)).stage, 'receiveId', `${v.id}: another appid is refused`)
  }
})

t.test('the published samples (P*) round-trip with fresh random bytes', async (t) => {
  const published = vectors.aes.filter((v) => v.id.startsWith('P'))
  t.ok(published.length >= 10)
  for (const v of published) {
    const crypto = cryptoFor(v)
    const sealed = crypto.encrypt(v.plaintext, { timestamp: v.timestamp, nonce: v.nonce })
    t.not(sealed.encrypt, v.encrypt, `${v.id}: fresh random bytes give another ciphertext`)
    t.equal(crypto.decrypt({ ...sealed, timestamp: v.timestamp, nonce: v.nonce }), v.plaintext, `${v.id}: round trip`)
    t.equal(crypto.decrypt({ msgSignature: v.msgSignature, timestamp: v.timestamp, nonce: v.nonce, encrypt: v.encrypt }), v.plaintext, `${v.id}: the sample itself`)
  }
})

t.test('every negative vector is refused at its stage with its WeChat code', async (t) => {
  t.ok(vectors.negative.length >= 13)
  for (const v of vectors.negative) {
    const crypto = cryptoFor(v)
    const error = refusal(() => crypto.decrypt(v))
    const stages = rejectStages(v)
    t.ok((stages as readonly string[]).includes(error.stage), `${v.id}: refused at ${error.stage}, expected ${v.rejectAt}`)
    t.equal(error.code, EXPECTED_CODES[error.stage], `${v.id}: code`)
    t.equal(error.name, 'WeChatCryptoError')
    assertNothingSecret(t, error, [v.token, v.encodingAESKey, parseEncodingAesKey(v.encodingAESKey).toString('hex'), parseEncodingAesKey(v.encodingAESKey).toString('base64')], v.id)
  }
})

t.test('checks run in order: a correct signature over a bad value fails at the next stage', async (t) => {
  t.test('MS1 (Encrypt "encrypt") passes the signature and fails at base64', async (t) => {
    const ms1 = byId(vectors.msgSignature, 'MS1')
    const crypto = createMessageCrypto({ token: ms1.token, encodingAesKey: g1.encodingAESKey, appId: g1.receiveId })
    t.equal(refusal(() => crypto.decrypt(ms1)).stage, 'base64')
    t.equal(refusal(() => crypto.decrypt({ ...ms1, msgSignature: ms1.msgSignature.replace(/.$/, '0') })).stage, 'signature')
  })

  t.test('N11 ("+" turned into spaces), once re-signed, fails at strict base64', async (t) => {
    const n11 = byId(vectors.negative, 'N11')
    const crypto = cryptoFor(n11)
    const resigned = { ...n11, msgSignature: wechatSignature([n11.token, n11.timestamp, n11.nonce, n11.encrypt]) }
    const error = refusal(() => crypto.decrypt(resigned))
    t.equal(error.stage, 'base64')
    t.equal(error.code, -40007)
  })

  t.test('strict base64: what Buffer.from would silently accept', async (t) => {
    const crypto = cryptoFor(g1)
    const good = g1.encrypt
    const mangled = [
      `${good.slice(0, 10)}\n${good.slice(10)}`, // a line break
      good.slice(0, -2), // padding dropped
      `${good}=`, // extra padding
      `${good.slice(0, 8)}=${good.slice(8)}`, // padding in the middle
      good.replaceAll('+', '-').replaceAll('/', '_'), // base64url
      `${good.slice(0, -1)}*`,
      `${good.slice(0, 12)}é${good.slice(13)}`
    ]
    for (const encrypt of mangled) {
      t.equal(refusal(() => crypto.decrypt(signedG1(encrypt))).stage, 'base64', JSON.stringify(encrypt.slice(0, 16)))
    }
    // Non-zero unused bits before "=": decodes to the same bytes, so only a canonical check sees it.
    const p1 = byId(vectors.aes, 'P1')
    t.ok(p1.encrypt.endsWith('fg=='))
    const p1Crypto = cryptoFor(p1)
    const sneaky = `${p1.encrypt.slice(0, -3)}h==`
    t.equal(Buffer.from(sneaky, 'base64').toString('hex'), Buffer.from(p1.encrypt, 'base64').toString('hex'), 'Buffer.from cannot tell them apart')
    const resigned = { ...p1, encrypt: sneaky, msgSignature: wechatSignature([p1.token, p1.timestamp, p1.nonce, sneaky]) }
    t.equal(refusal(() => p1Crypto.decrypt(resigned)).stage, 'base64')
  })

  t.test('length: empty, one AES block, and 16 bytes short of WeChat\'s 32-byte padding', async (t) => {
    const crypto = cryptoFor(g1)
    t.equal(refusal(() => crypto.decrypt(signedG1(''))).stage, 'length')
    t.equal(refusal(() => crypto.decrypt(signedG1(Buffer.alloc(16).toString('base64')))).stage, 'length')
    t.equal(refusal(() => crypto.decrypt(signedG1(Buffer.alloc(48).toString('base64')))).stage, 'length')
    t.equal(refusal(() => crypto.decrypt(signedG1(Buffer.alloc(31).toString('base64')))).stage, 'length')
    t.equal(byId(vectors.negative, 'N9').rejectAt, 'length')
  })

  t.test('padding, msg_len and receiveId on crafted plaintexts', async (t) => {
    const crypto = cryptoFor(g1)
    const appId = Buffer.from(g1.receiveId)
    const header = (msgLen: number) => {
      const b = Buffer.alloc(20, 0x61)
      b.writeUInt32BE(msgLen, 16)
      return b
    }
    const body = Buffer.from('<xml/>')
    const seal = (parts: Buffer[]) => crypto.decrypt(signedG1(rawCiphertext(Buffer.concat(parts))))

    const padFor = (length: number) => 32 - (length % 32)
    const unpadded = [header(body.length), body, appId]
    const n = padFor(Buffer.concat(unpadded).length)
    t.equal(seal([...unpadded, Buffer.alloc(n, n)]), '<xml/>', 'the well-formed control')

    const error = (parts: Buffer[]) => refusal(() => seal(parts))
    const withPad = (pad: Buffer) => [header(body.length), body, appId, Buffer.alloc(n - pad.length, 0x7a), pad]
    t.equal(error(withPad(Buffer.from([0]))).stage, 'padding', 'pad byte 0')
    t.equal(error(withPad(Buffer.from([33]))).stage, 'padding', 'pad byte 33')
    t.equal(error(withPad(Buffer.from([255]))).stage, 'padding', 'pad byte 255')
    t.equal(error([...unpadded, Buffer.alloc(n - 1, n - 1), Buffer.from([n])]).stage, 'padding', 'pad bytes differ')

    // Nothing but padding: no room for the 20-byte header.
    t.equal(error([Buffer.alloc(32, 32)]).stage, 'msgLen', 'shorter than the header')
    t.equal(error([Buffer.alloc(19, 0x61), Buffer.alloc(13, 13)]).stage, 'msgLen', '19 bytes of content')
    for (const msgLen of [0xffffffff, 0x80000000, body.length + appId.length + 1]) {
      t.equal(error([header(msgLen), body, appId, Buffer.alloc(n, n)]).stage, 'msgLen', `msg_len ${msgLen}`)
    }
    // msg_len swallowing the appid leaves an empty receiveId.
    t.equal(error([header(body.length + appId.length), body, appId, Buffer.alloc(n, n)]).stage, 'receiveId', 'msg_len covering the appid')
    t.equal(error([header(body.length), body, Buffer.from('wx0000000000000000'), Buffer.alloc(n, n)]).stage, 'receiveId')
    t.equal(error([header(body.length), body, appId.subarray(1), Buffer.alloc(n + 1, n + 1)]).stage, 'receiveId', 'appid one byte short')
  })
})

t.test('encrypt pads to 32 bytes: a full block of 0x20 when aligned', async (t) => {
  const crypto = cryptoFor(g1)
  const random = Buffer.alloc(16, 7)
  const appIdLength = Buffer.byteLength(g1.receiveId)
  for (const messageLength of [0, 1, 31, 32, 33, 64]) {
    const message = 'x'.repeat(messageLength)
    const { encrypt } = crypto.encrypt(message, { timestamp: g1.timestamp, nonce: g1.nonce, random })
    const unpadded = 20 + messageLength + appIdLength
    const expectedPad = unpadded % 32 === 0 ? 32 : 32 - (unpadded % 32)
    t.equal(Buffer.from(encrypt, 'base64').length, unpadded + expectedPad, `message of ${messageLength} bytes`)
    t.equal(crypto.decrypt(signedG1(encrypt)), message)
  }
  const g3 = byId(vectors.aes, 'G3')
  t.equal(g3.paddingLength, 32, 'G3 is the aligned case and is reproduced above with its random')
  t.throws(() => crypto.encrypt('x', { timestamp: g1.timestamp, nonce: g1.nonce, random: Buffer.alloc(15) }), RangeError)
})

t.test('replies: R2 is reproduced byte for byte, R1 is its decrypted content', async (t) => {
  const r1 = byId(vectors.replies, 'R1')
  const r2 = byId(vectors.replies, 'R2')
  const g6 = byId(vectors.aes, 'G6')
  if (r2.config === undefined) throw new Error('R2 has no config')
  const crypto = createMessageCrypto({ token: r2.config.token, encodingAesKey: r2.config.encodingAESKey, appId: r2.config.appid })
  const { TimeStamp: timestamp, Nonce: nonce, decrypted } = r2.expected
  if (timestamp === undefined || nonce === undefined || decrypted === undefined) throw new Error('R2 expected fields missing')

  const reply = crypto.encryptedReply(decrypted, { timestamp, nonce, random: Buffer.from(g6.randomHex, 'hex') })
  t.equal(reply, r2.xml, 'the whole envelope')

  const envelope = toWeChatMessage(parseXml(reply))
  t.equal(envelope, null, 'an envelope is not a push (no MsgType)')
  const parsed = parseXml(reply) as { xml: Record<string, string> }
  t.strictSame({ ...parsed.xml }, {
    Encrypt: r2.expected.Encrypt, MsgSignature: r2.expected.MsgSignature, TimeStamp: timestamp, Nonce: nonce
  })
  const { Encrypt: encrypt, MsgSignature: msgSignature } = parsed.xml
  if (encrypt === undefined || msgSignature === undefined) throw new Error('envelope fields missing')
  const opened = crypto.decrypt({ msgSignature, timestamp, nonce, encrypt })
  t.equal(opened, decrypted)
  t.equal(opened, r1.xml, 'R2 carries R1')
  const message = toWeChatMessage(parseXml(opened))
  t.strictSame(message === null ? null : { ...message }, r1.expected)

  // A fresh reply (random bytes of its own) still opens to the same text.
  const fresh = parseXml(crypto.encryptedReply(decrypted, { timestamp, nonce })) as { xml: Record<string, string> }
  t.equal(crypto.decrypt({ msgSignature: fresh.xml.MsgSignature ?? '', timestamp, nonce, encrypt: fresh.xml.Encrypt ?? '' }), decrypted)

  t.throws(() => crypto.encryptedReply(decrypted, { timestamp: '17e8', nonce }), RangeError)
  t.throws(() => crypto.encryptedReply(decrypted, { timestamp, nonce: 'a]]><x>' }), RangeError)
  t.throws(() => crypto.encryptedReply(decrypted, { timestamp, nonce: '' }), RangeError)
})

t.test('webhook requests W1, W2, W4 at the module level: query decoding, body, decryption', async (t) => {
  const e1 = byId(vectors.events, 'E1')
  for (const prefix of ['W1', 'W2']) {
    const w = byId(vectors.webhookRequests, prefix)
    const { token, encodingAESKey, appid } = w.config
    if (encodingAESKey === undefined || appid === undefined || w.body === undefined) throw new Error(`${w.id} incomplete`)
    const query = Object.fromEntries(new URLSearchParams(w.rawQuery))
    t.equal(verifyRequestSignature(token, query), w.expected.signatureValid, `${w.id}: query signature`)
    const body = parseXml(w.body) as { xml: Record<string, string> }
    const crypto = createMessageCrypto({ token, encodingAesKey: encodingAESKey, appId: appid })
    const decrypted = crypto.decrypt({
      msgSignature: query.msg_signature ?? '', timestamp: query.timestamp ?? '', nonce: query.nonce ?? '', encrypt: body.xml.Encrypt ?? ''
    })
    t.equal(decrypted, w.expected.decrypted, `${w.id}: decrypted`)
    const message = toWeChatMessage(parseXml(decrypted))
    t.strictSame(message === null ? null : { ...message }, e1.expected, `${w.id}: the decrypted push is E1`)
  }

  const w4 = byId(vectors.webhookRequests, 'W4')
  const query = new URLSearchParams(w4.rawQuery)
  const echostr = query.get('echostr') ?? ''
  t.equal(echostr, w4.expected.echostrDecoded, 'W4: %2B stays "+" after decoding')
  const { token, encodingAESKey, appid } = w4.config
  if (encodingAESKey === undefined || appid === undefined) throw new Error('W4 incomplete')
  const crypto = createMessageCrypto({ token, encodingAesKey: encodingAESKey, appId: appid })
  t.equal(crypto.decrypt({ msgSignature: query.get('msg_signature') ?? '', timestamp: query.get('timestamp') ?? '', nonce: query.get('nonce') ?? '', encrypt: echostr }), w4.expected.responseBody)
})

t.test('hostile values never escape as anything but a WeChatCryptoError', async (t) => {
  const crypto = cryptoFor(g1)
  const stages = new Set<CryptoStage>(['signature', 'base64', 'length', 'padding', 'msgLen', 'receiveId'])

  t.test('non-string fields are a signature failure, not a TypeError', async (t) => {
    const fields = ['msgSignature', 'timestamp', 'nonce', 'encrypt'] as const
    for (const field of fields) {
      for (const value of [undefined, null, 42, ['a', 'b'], { toString: () => 'x' }]) {
        const input = { ...g1, [field]: value } as unknown as Parameters<typeof crypto.decrypt>[0]
        t.equal(refusal(() => crypto.decrypt(input)).stage, 'signature', `${field} = ${inspect(value)}`)
      }
    }
  })

  t.test('arbitrary ciphertexts, correctly signed', async () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        crypto.decrypt(signedG1(Buffer.from(bytes).toString('base64')))
      } catch (error) {
        return error instanceof WeChatCryptoError && stages.has(error.stage)
      }
      // Random bytes decrypting to a well-formed message with our appid: not in this universe.
      return false
    }))
  })

  t.test('arbitrary strings as Encrypt, correctly signed', async () => {
    // Mostly the base64 alphabet, so many candidates get past the base64 check.
    const unit = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=', ' ', '\n', '-', '_', '%', 'é', '\u0000', '😀')
    fc.assert(fc.property(fc.oneof(fc.string({ unit, maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 200 })), (encrypt) => {
      try {
        crypto.decrypt(signedG1(encrypt))
      } catch (error) {
        return error instanceof WeChatCryptoError && stages.has(error.stage)
      }
      return false
    }))
  })

  t.test('bit flips of a real message, correctly re-signed: refused or (CBC malleability) a string', async () => {
    const ciphertext = Buffer.from(g1.encrypt, 'base64')
    fc.assert(fc.property(fc.nat({ max: ciphertext.length * 8 - 1 }), (bit) => {
      const flipped = Buffer.from(ciphertext)
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7))
      try {
        return typeof crypto.decrypt(signedG1(flipped.toString('base64'))) === 'string'
      } catch (error) {
        return error instanceof WeChatCryptoError && stages.has(error.stage)
      }
    }))
  })
})

t.test('any text round-trips, its UTF-8 byte length in msg_len', async () => {
  const crypto = cryptoFor(byId(vectors.aes, 'G2'))
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (text, random) => {
    const sealed = crypto.encrypt(text, { timestamp: '1718000000', nonce: 'n', random: Buffer.from(random) })
    const plaintextLength = Buffer.from(sealed.encrypt, 'base64').length
    const unpadded = 20 + Buffer.byteLength(text) + Buffer.byteLength('wx0d1c2b3a49586776')
    return crypto.decrypt({ ...sealed, timestamp: '1718000000', nonce: 'n' }) === text && plaintextLength % 32 === 0 &&
      plaintextLength - unpadded >= 1 && plaintextLength - unpadded <= 32
  }))
})

t.test('the crypto object shows no key when logged', async (t) => {
  const crypto = cryptoFor(g1)
  const shown = inspect(crypto, { depth: 5, showHidden: true })
  t.notOk(shown.includes(g1.encodingAESKey))
  t.notOk(shown.includes(g1.aesKeyHex))
  t.notOk(shown.includes(g1.token))
})
