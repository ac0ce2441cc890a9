import t from 'tap'
import { beijingDay, msUntilBeijingMidnight } from '../../src/util/beijing-day.js'

t.test("WeChat's day runs midnight to midnight in Beijing (UTC+8, all year)", async (t) => {
  const justBefore = Date.parse('2025-03-09T15:59:59.000Z')
  t.equal(beijingDay(justBefore), '2025-03-09', '23:59:59 in Beijing')
  t.equal(msUntilBeijingMidnight(justBefore), 1000)
  const midnight = Date.parse('2025-03-09T16:00:00.000Z')
  t.equal(beijingDay(midnight), '2025-03-10', 'midnight starts the next day')
  t.equal(msUntilBeijingMidnight(midnight), 86_400_000, 'a whole day to go')
  t.equal(beijingDay(Date.parse('2025-07-01T00:30:00.000Z')), '2025-07-01', 'no daylight saving: 08:30 in Beijing in July')
  t.equal(msUntilBeijingMidnight(Date.parse('2025-07-01T00:30:00.000Z')), 15.5 * 3600_000)
})
