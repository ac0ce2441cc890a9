import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { QueueCounts } from './jobs/definitions.js'
import { isFinal } from './login/status.js'
import { LOGIN_STATUSES, type LoginStatus } from './wire/login.js'

/**
 * Every metric the service exports, in one registry per app (never prom-client's global one: tests
 * build several apps in one process, and each must count only its own). Domain code never sees this
 * module: plugins hand it small callbacks that move these metrics. The README's "Operating" section
 * documents each name, label and meaning.
 */

/** Millisecond-scale latencies (seconds, as Prometheus wants): a scan reaches its page in a few ms; WeChat's retries stretch it to seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** The statuses a login ends in (src/wire/login.ts, through isFinal): the label values of wql_logins_total. */
export const FINAL_LOGIN_STATUSES: readonly LoginStatus[] = LOGIN_STATUSES.filter(isFinal)

/** The webhook's own outcomes; a refusal is counted under its error code (bad_signature…), an answer nobody coded under `status_<code>`. */
export const WEBHOOK_OUTCOMES = ['queued', 'duplicate', 'ignored', 'verified'] as const

/** Statuses whose push a scan causes: the scan-to-push histogram's label values. */
const PUSHED_AFTER_SCAN: ReadonlySet<LoginStatus> = new Set(['scanned', 'confirmed'])

export function createMetrics ({ defaultMetrics = true }: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry()
  // Process and Node.js figures (CPU, memory, event-loop lag, GC, handles), prom-client's standard names.
  if (defaultMetrics) collectDefaultMetrics({ register: registry })
  const registers = [registry]

  let queueCounts: (() => Promise<QueueCounts>) | null = null
  let spoolPending: (() => number) | null = null
  let openSocketCount: (() => number) | null = null

  /** A counter of one label whose every value is exported from the start, at 0 (rate() needs a first sample). */
  function labelledCounter<L extends string> (name: string, help: string, label: L, values: readonly string[]): Counter<L> {
    const counter = new Counter({ name, help, labelNames: [label] as const, registers })
    for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0)
    return counter
  }

  const logins = labelledCounter('wql_logins_total',
    'Follow-scan logins by the final status they reached: confirmed and denied where the store changed them, expired where a socket watched the QR run out',
    'status', FINAL_LOGIN_STATUSES)

  const webhookRequests = labelledCounter('wql_webhook_requests_total',
    'Requests to /wechat/webhook by outcome: queued, duplicate, ignored, verified (the console\'s URL check), spooled, or the refusal\'s error code',
    'outcome', WEBHOOK_OUTCOMES)

  const metrics = {
    registry,

    loginsCreated: new Counter({
      name: 'wql_logins_created_total',
      help: 'Follow-scan logins created (QR codes WeChat issued for POST /api/login/qr)',
      registers
    }),
    logins,
    scanToPush: new Histogram({
      name: 'wql_scan_to_push_seconds',
      help: 'From the webhook receiving a scan to the socket pushing the change it caused, on whichever instance holds the socket',
      labelNames: ['status'] as const,
      buckets: LATENCY_BUCKETS,
      registers
    }),

    webhookRequests,
    /** For the webhook's local spool (issue 14, Faults): an event kept on disk because Redis could not take it. */
    webhookSpooledEvents: new Counter({
      name: 'wql_webhook_spooled_events_total',
      help: 'Scan events written to the local spool because Redis could not take them',
      registers
    }),
    /** For the webhook's local spool: events on disk not yet replayed into the queue. */
    webhookSpoolPending: new Gauge({
      name: 'wql_webhook_spool_pending',
      help: 'Spooled scan events not yet replayed into the queue',
      registers,
      collect () {
        if (spoolPending !== null) this.set(spoolPending())
      }
    }),

    queueJobs: new Gauge({
      name: 'wql_queue_jobs',
      help: 'Scan jobs in the queue by state (waiting, active, delayed, failed), read from the queue at each scrape; the same figure on every instance',
      labelNames: ['state'] as const,
      registers,
      async collect () {
        if (queueCounts === null) return
        try {
          const counts = await queueCounts()
          for (const [state, count] of Object.entries(counts)) this.set({ state }, count)
        } catch {
          // Redis unreachable: no figure rather than a stale one (readiness says why).
          this.reset()
        }
      }
    }),
    jobsStalled: new Counter({
      name: 'wql_queue_stalled_jobs_total',
      help: 'Scan jobs whose worker stopped renewing its lock (crashed, blocked) and that went back to the queue, counted by the worker that found them',
      registers
    }),
    jobDuration: new Histogram({
      name: 'wql_job_duration_seconds',
      help: 'Time a worker spent on one attempt of a scan job, by outcome (completed, failed)',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers
    }),

    wechatCalls: new Counter({
      name: 'wql_wechat_calls_total',
      help: 'Attempts of WeChat API calls by API and errcode: "0" answered, WeChat\'s errcode, or timeout, network, http_status, bad_response',
      labelNames: ['api', 'errcode'] as const,
      registers
    }),
    tokenFetches: new Counter({
      name: 'wql_wechat_token_fetches_total',
      help: 'Access token fetches by this process, by source (stable, legacy, central) and outcome (ok, failed)',
      labelNames: ['source', 'outcome'] as const,
      registers
    }),

    openSockets: new Gauge({
      name: 'wql_login_sockets_open',
      help: 'Login WebSockets open on this instance',
      registers,
      collect () {
        if (openSocketCount !== null) this.set(openSocketCount())
      }
    }),
    busResubscribes: new Counter({
      name: 'wql_pubsub_resubscribes_total',
      help: 'Times this instance\'s login pub/sub connection came back and subscribed its channels again',
      registers
    }),

    /** Where wql_queue_jobs reads its figures at each scrape. */
    watchQueue (counts: () => Promise<QueueCounts>): void {
      queueCounts = counts
    },

    /** Where wql_webhook_spool_pending reads its figure at each scrape. */
    watchSpool (pending: () => number): void {
      spoolPending = pending
    },

    /** Where wql_login_sockets_open reads its figure at each scrape. */
    watchSockets (count: () => number): void {
      openSocketCount = count
    },

    /** A socket pushed `status` after a bus message that carried the scan's receive time. */
    observeScanToPush (status: LoginStatus, scanReceivedAt: number, now = Date.now()): void {
      if (PUSHED_AFTER_SCAN.has(status)) metrics.scanToPush.observe({ status }, Math.max(0, now - scanReceivedAt) / 1000)
    },

    /** Times one job attempt into wql_job_duration_seconds. */
    async timeJob<T> (attempt: () => Promise<T>): Promise<T> {
      const end = metrics.jobDuration.startTimer()
      try {
        const result = await attempt()
        end({ outcome: 'completed' })
        return result
      } catch (error) {
        end({ outcome: 'failed' })
        throw error
      }
    }
  }
  return metrics
}

export type Metrics = ReturnType<typeof createMetrics>
