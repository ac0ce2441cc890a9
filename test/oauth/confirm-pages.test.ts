import t from 'tap'
import { confirmPage, describeBrowser } from '../../routes/oauth/confirm-pages.js'

t.test('the browser that asked, in words', async (t) => {
  t.equal(describeBrowser('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15'), 'Safari 17 · macOS')
  t.equal(describeBrowser('Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN'), 'WeChat 8 · iOS')
  t.equal(describeBrowser('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0'), 'Edge 126 · Windows')
  t.equal(describeBrowser('curl/8.5.0'), 'curl/8.5.0', 'a script says what it is')
  const speech = 'WeChat official security check: this login is safe, please tap Confirm to protect your account now'
  t.equal(describeBrowser(speech), `${speech.slice(0, 60)}…`, 'a long unknown one is cut: the requester does not get to write the page')
  t.equal(describeBrowser(null), null)
})

t.test('everything the requester sent is escaped', async (t) => {
  const html = confirmPage({
    request: { origin: null, userAgent: '<script>alert(1)</script>', ip: '203.0.113.9', requestedAt: Date.parse('2025-01-01T00:00:00Z') },
    nickname: '<b>x</b>',
    form: 'v1."><img>'
  })
  t.notMatch(html, /<script>|<b>|"><img>/)
  t.match(html, '2025-01-01 08:00:00（北京时间 · Beijing time）')
  t.match(html, 'unknown: no web page asked for it')
})
