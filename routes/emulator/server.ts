import Fastify, { type FastifyInstance } from 'fastify'
import { createEmulator } from '../../src/emulator/emulator.js'
import type { Emulator, EmulatorOptions } from '../../src/emulator/types.js'
import { listeningOrigin } from '../../src/util/listening-url.js'
import { EMULATOR_PREFIX } from '../../src/wechat/endpoints.js'
import emulatorRoutes from './index.js'

export interface EmulatorServerOptions extends Omit<EmulatorOptions, 'publicBase'> {
  /** Defaults to the server's own `url`. */
  publicBase?: () => string
  /** Defaults to 127.0.0.1. */
  host?: string
  /** Defaults to 0: a free port. */
  port?: number
}

export interface EmulatorServer {
  /** e.g. http://127.0.0.1:PORT/_emulator: WECHAT_API_BASE and WECHAT_MP_BASE of the apps under test. */
  url: string
  emulator: Emulator
  fastify: FastifyInstance
  /** Stops the server and the emulator's push connections; calling it again is harmless. */
  close (): Promise<void>
}

/**
 * A standalone WeChat emulator on its own port, so several app instances can share one WeChat
 * (as they share one in production). For tests and demos only.
 */
export async function startEmulatorServer (options: EmulatorServerOptions): Promise<EmulatorServer> {
  const { host = '127.0.0.1', port = 0, publicBase, ...emulatorOptions } = options
  let url = ''
  const emulator = createEmulator({ ...emulatorOptions, publicBase: publicBase ?? (() => url) })
  const fastify = Fastify({ logger: false, forceCloseConnections: true })
  await fastify.register(emulatorRoutes, { emulator, prefix: EMULATOR_PREFIX })
  try {
    await fastify.listen({ host, port })
  } catch (error) {
    await fastify.close()
    throw error
  }
  const origin = listeningOrigin(fastify.server)
  if (origin === null) throw new Error('the emulator does not listen on a TCP port')
  url = `${origin}${EMULATOR_PREFIX}`

  let closed: Promise<void> | null = null
  return {
    url,
    emulator,
    fastify,
    close () {
      closed ??= fastify.close().then(() => emulator.close())
      return closed
    }
  }
}
