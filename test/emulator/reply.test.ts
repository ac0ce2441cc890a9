/** The emulated phone reads the webhook's answer as WeChat does: only a well-formed passive reply is a message. */
import t from 'tap'
import { readPassiveReply } from '../../src/emulator/reply.js'
import { createMessageCrypto } from '../../src/wechat/crypto.js'
import { passiveReply, textReplyXml } from '../../routes/wechat/reply.js'
import { TEST_ENCODING_AES_KEY } from '../fixtures/webhook.js'

const crypto = createMessageCrypto({ token: 'replytoken', encodingAesKey: TEST_ENCODING_AES_KEY, appId: 'wxreplytest000001' })
const push = { ToUserName: 'gh_account', FromUserName: 'oUser', MsgType: 'event', Event: 'SCAN' }
const plaintext = { fields: push, encrypted: false, encryptedOnly: false, crypto }
const safe = { fields: push, encrypted: true, encryptedOnly: true, crypto }
const compatible = { fields: push, encrypted: true, encryptedOnly: false, crypto }
const xml = textReplyXml(push, 'hello <a href="https://login.example.com/x">link</a>', 1_700_000_000)

t.test('"success" and an empty body show nothing', async (t) => {
  t.same(readPassiveReply('success', plaintext), { kind: 'none' })
  t.same(readPassiveReply('', safe), { kind: 'none' })
})

t.test('a text reply to the sender, from the account, is shown', async (t) => {
  t.same(readPassiveReply(xml, plaintext), { kind: 'text', content: 'hello <a href="https://login.example.com/x">link</a>' })
  t.same(readPassiveReply(xml, compatible), { kind: 'text', content: 'hello <a href="https://login.example.com/x">link</a>' }, 'compatible mode takes a plaintext reply')
  const encrypted = passiveReply(xml, { encrypted: true }, crypto).body
  t.match(readPassiveReply(encrypted, safe), { kind: 'text' }, 'safe mode, encrypted and signed')
})

t.test('anything else is WeChat\'s "cannot provide service" for the user', async (t) => {
  t.match(readPassiveReply(xml, safe), { kind: 'broken', reason: /plaintext reply in safe mode/ })
  t.match(readPassiveReply(passiveReply(xml, { encrypted: true }, crypto).body, plaintext), { kind: 'broken', reason: /encrypted reply to a plaintext push/ })
  const otherKey = createMessageCrypto({ token: 'othertoken', encodingAesKey: TEST_ENCODING_AES_KEY, appId: 'wxreplytest000001' })
  t.match(readPassiveReply(passiveReply(xml, { encrypted: true }, otherKey).body, safe), { kind: 'broken', reason: /signature check/ }, 'signed with another token')
  t.match(readPassiveReply(textReplyXml({ ...push, FromUserName: 'oSomeoneElse' }, 'hi', 1), plaintext), { kind: 'broken', reason: /not addressed to the sender/ })
  t.match(readPassiveReply('{"ok":true}', plaintext), { kind: 'broken' })
})
