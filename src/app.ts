import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isEmbedded, type Config } from './config.js'
import { EMULATOR_PREFIX } from './wechat/endpoints.js'
import websocket from '../plugins/external/websocket.js'
import helmet from '../plugins/external/helmet.js'
import rateLimit from '../plugins/external/rate-limit.js'
import staticFiles from '../plugins/external/static.js'
import configPlugin from '../plugins/app/config.js'
import metrics from '../plugins/app/metrics.js'
import swagger from '../plugins/external/swagger.js'
import swaggerUi from '../plugins/external/swagger-ui.js'
import endpoints from '../plugins/app/endpoints.js'
import drivers from '../plugins/app/drivers.js'
import wechat from '../plugins/app/wechat.js'
import logins from '../plugins/app/logins.js'
import worker from '../plugins/app/worker.js'
import scanIntake from '../plugins/app/scan-intake.js'
import healthRoutes from '../routes/health/index.js'
import metricsRoutes from '../routes/metrics/index.js'
import loginRoutes from '../routes/login/index.js'
import wechatRoutes from '../routes/wechat/index.js'
import emulatorRoutes from '../routes/emulator/index.js'
import {
  InternalError, NotFound, Unavailable, errorBody, errorCode, fastifyRefusalBody, fromServiceError, isRouteError, logLevel, type RouteError
} from '../routes/errors.js'
import oauth from '../plugins/app/oauth.js'
import oauthRoutes from '../routes/oauth/index.js'
import { oauthEnabled } from './oauth/settings.js'

export interface AppOptions {
  config: Config
  /** 'server' serves HTTP (and runs the worker unless RUN_WORKER=0); 'worker' only processes jobs. */
  role?: 'server' | 'worker'
}

/** The whole service as one plugin; process.ts (for server.ts, worker.ts and demo.ts) owns the process around it. */
export default async function app (fastify: FastifyInstance, { config, role = 'server' }: AppOptions): Promise<void> {
  if (isEmbedded(config) && (role === 'worker' || !config.RUN_WORKER)) {
    // In-process state is invisible to other processes: a separate worker would never see a job.
    throw new Error('Embedded mode (REDIS_URL and REDIS_CLUSTER_NODES unset) is one process that runs its own worker: set REDIS_URL (or REDIS_CLUSTER_NODES) to split web and worker')
  }
  await fastify.register(configPlugin, { config })
  await fastify.register(metrics)
  await fastify.register(endpoints)
  await fastify.register(drivers)
  await fastify.register(wechat)
  await fastify.register(logins)
  if (role === 'worker' || config.RUN_WORKER) await fastify.register(worker)

  fastify.setErrorHandler(rootErrorHandler)
  fastify.setNotFoundHandler(async () => { throw new NotFound('route') })

  if (role === 'worker') {
    // A worker serves nothing else, and /metrics only where it listens (process.ts: METRICS_PORT).
    if (config.METRICS_PORT !== undefined) await fastify.register(metricsRoutes)
    return
  }

  await fastify.register(helmet)
  await fastify.register(rateLimit)
  await fastify.register(websocket)
  await fastify.register(scanIntake)
  // Before the routes: it documents those registered after it.
  await fastify.register(swagger)
  await fastify.register(healthRoutes)
  await fastify.register(metricsRoutes)
  await fastify.register(loginRoutes, { prefix: '/api/login' })
  await fastify.register(wechatRoutes, { prefix: '/wechat' })
  if (oauthEnabled(config)) {
    await fastify.register(oauth)
    await fastify.register(oauthRoutes)
  }
  if (fastify.endpoints.emulated) {
    fastify.log.warn(`WECHAT EMULATOR ENABLED: ${EMULATOR_PREFIX} impersonates WeChat; never run this in production`)
    await fastify.register(emulatorRoutes, { prefix: EMULATOR_PREFIX })
  }
  await fastify.register(swaggerUi)
  await fastify.register(staticFiles)
}

/**
 * Every error ends here: one log line with its code under `code`, one body `{ error: code }`.
 * Route errors (routes/errors.ts) as they are defined, WeChat's failures as 502s with its errcode,
 * the state store's as 503s; 5xx bodies never carry an internal message.
 */
async function rootErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const routeError = isRouteError(error) ? error : fromServiceError(error)
  if (routeError === null && error.statusCode !== undefined && error.statusCode < 500) {
    const body = fastifyRefusalBody(error, { codeOnly: request.routeOptions.config.codeOnlyErrors === true })
    request.outcome = body.error
    request.log.info({ code: body.error }, error.message)
    return reply.code(error.statusCode).send(body)
  }
  const sent: RouteError = routeError ?? new InternalError({ cause: error })
  const err = sent.statusCode >= 500 ? sent.cause : undefined
  request.outcome = errorCode(sent)
  request.log[logLevel(sent)]({ code: errorCode(sent), ...sent.logFields, ...(err === undefined ? {} : { err }) }, sent.message)
  if (sent instanceof Unavailable) reply.header('retry-after', '1')
  return reply.code(sent.statusCode).send(errorBody(sent))
}
