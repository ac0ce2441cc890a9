import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { ConfigError, loadConfig, trustProxy, type Config } from './config.js'
import { loggerOptions } from './logger.js'

/** Fastify options shared by the server and worker entries (and the tests' builds). */
export function serverOptions (config: Config, logStream?: NodeJS.WritableStream) {
  return {
    logger: loggerOptions(config, logStream),
    trustProxy: trustProxy(config),
    // Behind a load balancer, idle keep-alive must outlive the balancer's own (60 s on most).
    keepAliveTimeout: 72_000,
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    bodyLimit: 64 * 1024,
    pluginTimeout: 30_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle' as const
  }
}

/** A bad variable stops the process with one line naming it, before anything starts. */
export function loadConfigOrExit (env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    process.exit(1)
  }
}

export async function main (env = process.env): Promise<void> {
  const config = loadConfigOrExit(env)
  const fastify = Fastify(serverOptions(config))
  await fastify.register(app, { config, role: 'server' })

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'shutting down after an error')
    else fastify.log.info({ signal }, 'shutting down')
    await fastify.close()
  })

  try {
    await fastify.listen({ port: config.PORT, host: config.HOST })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      fastify.log.fatal(`port ${config.PORT} is taken: stop what uses it, or set PORT to another port`)
    } else {
      fastify.log.fatal({ err: error }, 'could not start')
    }
    await fastify.close()
    process.exit(1)
  }
}

if (process.argv[1] === import.meta.filename) {
  await main()
}
