import type { Drivers } from '../drivers.js'
import type { ScanJob, JobWorker, ScanQueueOptions } from '../../jobs/definitions.js'
import { createMemoryJobQueue } from './job-queue.js'
import { createMemoryLoginBus } from './login-bus.js'
import { createMemoryLoginStore } from './login-store.js'
import { createMemoryTokenCache } from './token-cache.js'
import { createMemorySignatureLedger } from './signature-ledger.js'
import { createMemoryOAuthStateStore } from './oauth-state-store.js'
import { createMemoryUserTokenStore } from './oauth-user-token-store.js'

export interface EmbeddedDrivers extends Drivers {
  mode: 'embedded'
}

/**
 * Embedded mode: every driver in this process, nothing to connect to. One process only: a second
 * instance would not see these logins, which is why multi-instance deployments set REDIS_URL.
 */
export function createEmbeddedDrivers (queueOptions: ScanQueueOptions): EmbeddedDrivers {
  const loginStore = createMemoryLoginStore()
  const loginBus = createMemoryLoginBus()
  const scanQueue = createMemoryJobQueue<ScanJob>(queueOptions)
  const oauthStateStore = createMemoryOAuthStateStore()
  const userTokenStore = createMemoryUserTokenStore()
  const workers: JobWorker[] = []
  let closed: Promise<void> | null = null

  return {
    mode: 'embedded',
    loginStore,
    loginBus,
    tokenCache: createMemoryTokenCache(),
    signatureLedger: createMemorySignatureLedger(),
    scanQueue,
    oauthStateStore,
    userTokenStore,

    startScanWorker (processor, options) {
      const worker = scanQueue.startWorker(processor, options)
      workers.push(worker)
      return worker
    },

    async ready () {},

    async healthy () {
      return true
    },

    onAvailable () {
      return () => {}
    },

    close () {
      // Same order as the Redis drivers: workers finish their jobs, then the queue and the rest.
      closed ??= (async () => {
        await Promise.all(workers.map((worker) => worker.close()))
        await scanQueue.close()
        await loginBus.close()
        loginStore.close()
        oauthStateStore.close()
        userTokenStore.close()
      })()
      return closed
    }
  }
}
