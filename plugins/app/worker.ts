import fp from 'fastify-plugin'
import { createScanProcessor } from '../../src/jobs/scan-processor.js'

/**
 * Runs the scan worker in this process. Registered by the worker entry, and by the server unless
 * RUN_WORKER=0 (web-only instances behind a load balancer).
 */
export default fp(async function workerPlugin (fastify) {
  const { config, drivers, wechat } = fastify
  const log = fastify.log.child({ component: 'worker' })
  const processor = createScanProcessor({
    store: drivers.loginStore,
    bus: drivers.loginBus,
    wechat,
    codeTtlMs: config.LOGIN_CODE_TTL_SECONDS * 1000,
    requireConfirm: config.LOGIN_REQUIRE_CONFIRM,
    log
  })
  const worker = drivers.startScanWorker(processor, { concurrency: config.WORKER_CONCURRENCY, log })
  // Before the drivers close their connections (onClose hooks run in reverse registration order).
  fastify.addHook('onClose', () => worker.close())
}, { name: 'worker', fastify: '5.x', dependencies: ['config', 'drivers', 'wechat'] })
