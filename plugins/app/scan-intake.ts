import fp from 'fastify-plugin'
import { spoolDir } from '../../src/config.js'
import { createScanIntake, parseSpooledScan } from '../../src/jobs/scan-intake.js'
import { openFileSpool } from '../../src/jobs/spool.js'

declare module 'fastify' {
  interface FastifyInstance {
    scanIntake: ReturnType<typeof createScanIntake>
  }
}

/**
 * How the webhook keeps the scans WeChat pushes: queued, or spooled to SPOOL_DIR while Redis is
 * away and replayed when it is back. Leftovers of a previous process are replayed at boot.
 */
export default fp(async function scanIntakePlugin (fastify) {
  const { config, drivers, metrics } = fastify
  const log = fastify.log.child({ component: 'scan-intake' })
  const spool = await openFileSpool({ dir: spoolDir(config), parse: parseSpooledScan })
  const intake = createScanIntake({
    drivers,
    spool,
    // The signature ledger remembers a signature as long as its timestamp is accepted, either side of our clock.
    signatureTtlMs: 2 * config.WECHAT_TIMESTAMP_TOLERANCE_SECONDS * 1000,
    log,
    onSpooled: () => metrics.webhookSpooledEvents.inc()
  })
  metrics.watchSpool(() => intake.pending())
  fastify.decorate('scanIntake', intake)
  // Registered after the drivers: closed before them (onClose hooks run in reverse order).
  fastify.addHook('onClose', () => intake.close())
  if (intake.pending() > 0) {
    log.warn({ pending: intake.pending() }, 'scans spooled by an earlier process: replaying them')
    await intake.replay()
  }
}, { name: 'scan-intake', fastify: '5.x', dependencies: ['config', 'metrics', 'drivers'] })
