import fp from 'fastify-plugin'
import { scanJobLogFields } from '../../src/jobs/definitions.js'
import { createScanProcessor } from '../../src/jobs/scan-processor.js'

/**
 * Runs the scan worker in this process. Registered by the worker entry, and by the server unless
 * RUN_WORKER=0 (web-only instances behind a load balancer).
 */
export default fp(async function workerPlugin (fastify) {
  const { config, drivers, wechat, metrics } = fastify
  const log = fastify.log.child({ component: 'worker' })
  const processor = createScanProcessor({
    store: drivers.loginStore,
    bus: drivers.loginBus,
    wechat,
    codeTtlMs: config.LOGIN_CODE_TTL_SECONDS * 1000,
    requireConfirm: config.LOGIN_REQUIRE_CONFIRM,
    log,
    onFinal: (status) => metrics.logins.inc({ status })
  })
  const worker = drivers.startScanWorker((job, attempt) => metrics.timeJob(() => processor(job, attempt)), {
    concurrency: config.WORKER_CONCURRENCY,
    log,
    logFields: scanJobLogFields,
    onStalled: () => metrics.jobsStalled.inc()
  })
  // Before the drivers close their connections (onClose hooks run in reverse registration order).
  fastify.addHook('onClose', () => worker.close())
}, { name: 'worker', fastify: '5.x', dependencies: ['config', 'drivers', 'wechat', 'metrics'] })
