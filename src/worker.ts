import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { loadConfigOrExit, serverOptions } from './server.js'

/** A worker-only process: the same plugin graph without routes, listening on nothing. */
async function main (): Promise<void> {
  const config = loadConfigOrExit()

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
