import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { serverOptions } from './server.js'

/** A worker-only process: the same plugin graph without routes, listening on nothing. */
async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    process.exit(1)
  }

  const fastify = Fastify(serverOptions(config))
  await fastify.register(app, { config, role: 'worker' })
  await fastify.ready()
  fastify.log.info('worker started')

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'shutting down after an error')
    else fastify.log.info({ signal }, 'shutting down')
    await fastify.close()
  })
}

await main()
