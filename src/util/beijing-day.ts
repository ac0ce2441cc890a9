/**
 * WeChat's daily API quotas (qrcode/create's among them) reset at midnight Beijing time: UTC+8,
 * the whole year (China has no daylight saving time).
 */
const BEIJING_OFFSET_MS = 8 * 3600_000
export const DAY_MS = 86_400_000

/** The calendar day in Beijing, YYYY-MM-DD: what a daily quota counts under. */
export function beijingDay (now: number): string {
  return new Date(now + BEIJING_OFFSET_MS).toISOString().slice(0, 10)
}

/** Time left until the next midnight in Beijing, when the quotas reset (never 0: a full day at midnight itself). */
export function msUntilBeijingMidnight (now: number): number {
  return DAY_MS - (((now + BEIJING_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS
}
