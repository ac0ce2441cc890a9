import Fastify, { type FastifyInstance } from 'fastify'
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/emulator.js'
import { createOAuthEmulator, type OAuthAppCredentials, type OAuthEmulator } from '../../src/emulator/oauth.js'
import emulatorRoutes from './index.js'

export interface EmulatorServerOptions extends Omit<EmulatorOptions, 'publicBase'> {
  /** A website app of the Open Platform, for connect/qrconnect (website QR login). */
  openApp?: OAuthAppCredentials
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
  /** Its OAuth side: authorize pages, sns/* APIs. */
  oauth: OAuthEmulator
  fastify: FastifyInstance
  /** Stops the server and the emulator's push connections; calling it again is harmless. */
  close (): Promise<void>
}

export const EMULATOR_PREFIX = '/_emulator'

/**
 * A standalone WeChat emulator on its own port, so several app instances can share one WeChat
 * (as they share one in production). For tests and demos only.
 */
export async function startEmulatorServer (options: EmulatorServerOptions): Promise<EmulatorServer> {
  const { host = '127.0.0.1', port = 0, publicBase, openApp, ...emulatorOptions } = options
  let url = ''
  const emulator = createEmulator({ ...emulatorOptions, publicBase: publicBase ?? (() => url) })
  const oauth = createOAuthEmulator({
    mp: { appId: emulatorOptions.appId, appSecret: emulatorOptions.appSecret },
    ...(openApp === undefined ? {} : { open: openApp }),
    users: () => emulator.users,
    now: () => emulator.now()
  })
  const fastify = Fastify({ logger: false, forceCloseConnections: true })
  await fastify.register(emulatorRoutes, { emulator, oauth, prefix: EMULATOR_PREFIX })
  try {
    await fastify.listen({ host, port })
  } catch (error) {
    await fastify.close()
    throw error
  }
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('the emulator does not listen on a TCP port')
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address
  url = `http://${hostPart}:${address.port}${EMULATOR_PREFIX}`

  let closed: Promise<void> | null = null
  return {
    url,
    emulator,
    oauth,
    fastify,
    close () {
      closed ??= fastify.close().then(() => emulator.close())
      return closed
    }
  }
}
