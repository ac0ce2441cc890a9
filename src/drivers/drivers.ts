import type { JobProcessor, JobQueue, JobWorker, ScanJob, WorkerOptions } from '../jobs/definitions.js'
import type { LoginBus } from '../login/bus.js'
import type { LoginStore } from '../login/store.js'
import type { TokenCache } from '../wechat/access-token.js'
import type { SignatureLedger } from '../wechat/signature-ledger.js'
import type { OAuthStateStore } from '../oauth/state-store.js'
import type { UserTokenStore } from '../oauth/user-token-store.js'

/** What the drivers tell the metrics (src/metrics.ts) as it happens; each optional. */
export interface DriverEvents {
  /** The login bus' connection came back and its channels are subscribed again. */
  busResubscribed?: () => void
}

/**
 * Everything with state, behind small interfaces, each member named by its role. Two
 * implementations, redis/drivers.ts and memory/drivers.ts, chosen once at boot (index.ts): routes
 * and the worker never know which runs, and the contract tests run against both.
 */
export interface Drivers {
  mode: 'redis' | 'embedded'
  loginStore: LoginStore
  loginBus: LoginBus
  tokenCache: TokenCache
  signatureLedger: SignatureLedger
  scanQueue: JobQueue<ScanJob>
  /** OAuth states from authorize to callback. */
  oauthStateStore: OAuthStateStore
  /** Users' OAuth tokens, sealed by the caller. */
  userTokenStore: UserTokenStore
  startScanWorker (processor: JobProcessor<ScanJob>, options: WorkerOptions<ScanJob>): JobWorker
  /** Resolves once every connection is ready; boot waits for it. */
  ready (): Promise<void>
  /** false while the backing store cannot answer: readiness reports 503. */
  healthy (): Promise<boolean>
  /**
   * Calls `listener` each time the backing store becomes reachable: at boot and after every
   * reconnect (Redis: the command connection is ready). Embedded: never, it is always there.
   * Returns the function that removes the listener.
   */
  onAvailable (listener: () => void): () => void
  /** Workers first (they may finish a job), then the queue, then what lies under them. Harmless twice. */
  close (): Promise<void>
}
