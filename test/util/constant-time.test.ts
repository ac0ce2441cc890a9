import t from 'tap'
import { safeEqual } from '../../src/util/constant-time.js'

t.test('equal secrets match, as strings and as buffers', async (t) => {
  t.equal(safeEqual('s3cret-value', 's3cret-value'), true)
  t.equal(safeEqual(Buffer.from('s3cret-value'), Buffer.from('s3cret-value')), true)
  t.equal(safeEqual('s3cret-value', Buffer.from('s3cret-value')), true, 'a string equals its UTF-8 bytes')
  t.equal(safeEqual('', ''), true)
})

t.test('any difference fails, including length, without throwing', async (t) => {
  t.equal(safeEqual('s3cret-value', 's3cret-valuf'), false)
  t.equal(safeEqual('s3cret-value', 's3cret-value-and-more'), false, 'longer')
  t.equal(safeEqual('s3cret-value', 's3cret'), false, 'shorter (timingSafeEqual alone would throw)')
  t.equal(safeEqual('s3cret-value', ''), false)
  t.equal(safeEqual('ABC', 'abc'), false, 'case matters')
})
