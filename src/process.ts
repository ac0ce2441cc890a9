import { randomUUID } from 'node:crypto'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import app, { type AppOptions } from './app.js'
import { ConfigError, loadConfig, trustProxy, type Config, type Env } from './config.js'
import { RequestLog, loggerOptions } from './logger.js'

/** How long a signal's shutdown may take before close-with-grace ends the process anyway. */
const CLOSE_GRACE_MS = 10_000

/** Fastify options shared by every entry (and the tests' builds). */
export function serverOptions (config: Config, logStream?: NodeJS.WritableStream) {
  return {
    logger: loggerOptions(config, logStream),
    logController: new RequestLog(),
    trustProxy: trustProxy(config),
    // Behind a load balancer, idle keep-alive must outlive the balancer's own (60 s on most).
    keepAliveTimeout: 72_000,
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    bodyLimit: 64 * 1024,
    pluginTimeout: 30_000,
    // While closing, a request on a kept-alive connection is still served, with `Connection: close`
    // (the app closes its state only once every connection is done): a 503 would be an answer that
    // WeChat does not retry, and a scan pushed during a deploy would be lost.
    return503OnClosing: false,
    forceCloseConnections: 'idle' as const,
    // Unique across instances: a scan job carries its webhook request's id into the worker's log lines.
    genReqId: () => randomUUID()
  }
}

/** A bad variable stops the process with one line naming it, before anything starts. */
export function loadConfigOrExit (env: Env = process.env): Config {
  try {
    return loadConfig(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    process.exit(1)
  }
}

export interface RunningProcess {
  fastify: FastifyInstance
  config: Config
}

/**
 * One process around the app: the server listens on PORT/HOST, the worker only processes jobs.
 * A signal or a crash closes it with grace; a failure to start is one fatal log line and exit 1.
 */
export async function runProcess (role: NonNullable<AppOptions['role']>, env: Env = process.env): Promise<RunningProcess> {
  const config = loadConfigOrExit(env)
  const fastify = Fastify(serverOptions(config))

  closeWithGrace({ delay: CLOSE_GRACE_MS }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'shutting down after an error')
    else fastify.log.info({ signal }, 'shutting down')
    await fastify.close()
  })

  try {
    await fastify.register(app, { config, role })
    if (role === 'server') {
      await fastify.listen({ port: config.PORT, host: config.HOST })
    } else {
      // Prometheus scrapes a worker on METRICS_PORT (its only route, /metrics); without it, it listens on nothing.
      if (config.METRICS_PORT === undefined) await fastify.ready()
      else await fastify.listen({ port: config.METRICS_PORT, host: config.HOST })
      fastify.log.info('worker started')
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const [variable, port] = role === 'server' ? ['PORT', config.PORT] : ['METRICS_PORT', config.METRICS_PORT]
      fastify.log.fatal(`port ${port} is taken: stop what uses it, or set ${variable} to another port`)
    } else {
      fastify.log.fatal({ err: error }, 'could not start')
    }
    await fastify.close()
    process.exit(1)
  }
  return { fastify, config }
}
