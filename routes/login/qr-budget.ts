import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DAY_MS, beijingDay, msUntilBeijingMidnight } from '../../src/util/beijing-day.js'
import { QrBudgetExhausted, withLog } from '../errors.js'

/** Share of the day's budget at which the log raises the alarm: time to act before logins stop. */
export const QR_BUDGET_ALARM_SHARE = 0.8

export interface QrBudgetOptions {
  /** Logins the deployment may create per Beijing day (RATE_LIMIT_QR_DAILY); 0 turns the budget off. */
  max: number
  now?: () => number
}

/**
 * The deployment's daily budget of logins, below WeChat's daily qrcode/create quota: once it is
 * spent, logins are refused here (503 until midnight Beijing time) rather than by WeChat (45009,
 * after the quota is gone for everything else on the account too). One counter per Beijing day,
 * shared by every instance (Redis, through @fastify/rate-limit's store). The alarm and the
 * "used up" line are each logged once a day in the whole deployment: each count is seen by exactly
 * one request.
 */
export function dailyQrBudget (fastify: FastifyInstance, { max, now = Date.now }: QrBudgetOptions) {
  const alarmAt = Math.max(1, Math.ceil(max * QR_BUDGET_ALARM_SHARE))
  // A day and a margin: the counter of a day must outlive the day, whenever its first login came.
  const check = max > 0 ? fastify.createRateLimit({ max, timeWindow: DAY_MS + 3600_000, keyGenerator: () => `qr:day:${beijingDay(now())}` }) : null
  const log = fastify.log.child({ component: 'qr-budget' })

  return async function spendDailyBudget (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (check === null) return
    const result = await check(request)
    if (result.isAllowed) return
    if (result.isExceeded) {
      const retryIn = Math.ceil(msUntilBeijingMidnight(now()) / 1000)
      reply.header('retry-after', String(retryIn))
      throw withLog(new QrBudgetExhausted(retryIn), { limit: 'qr:day', max })
    }
    // With Redis unreachable the count reads 0 and the request goes on: the login's own write then fails.
    const used = max - result.remaining
    if (used === alarmAt && used < max) {
      log.warn({ used, max, day: beijingDay(now()) }, `${Math.round(QR_BUDGET_ALARM_SHARE * 100)}% of today's QR budget (RATE_LIMIT_QR_DAILY) is used: logins stop when the rest is, until midnight Beijing time. Look for abuse (429s, one client or network), or raise the budget within WeChat's quota`)
    } else if (used === max) {
      log.error({ used, max, day: beijingDay(now()) }, "today's QR budget (RATE_LIMIT_QR_DAILY) is used up: no more logins until midnight Beijing time")
    }
  }
}
