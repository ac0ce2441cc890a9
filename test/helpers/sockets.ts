import { once } from 'node:events'
import { WebSocket } from 'ws'
import type { SocketError, StatusMessage } from '../../src/wire/login.js'

/**
 * What the login socket sends: a status, or an error just before it closes. One loose shape, so a
 * test reads `.status` or `.error` without narrowing first, and compares whole messages with t.same.
 */
export type SocketMessage = { type: StatusMessage['type'] | SocketError['type'] }
  & Partial<Omit<StatusMessage, 'type'>> & Partial<Omit<SocketError, 'type'>>

/** A real WebSocket client of /api/login/ws that queues messages so a test awaits them in order. */
export interface LoginSocket {
  next (): Promise<SocketMessage>
  /** Resolves with the close code once the server closed the socket. */
  closed: Promise<number>
  ws: WebSocket
}

export async function openLoginSocket (target: { url: string }, subscribe?: { scene: string, secret: string }): Promise<LoginSocket> {
  const ws = new WebSocket(`${target.url.replace(/^http/, 'ws')}/api/login/ws`)
  const queued: SocketMessage[] = []
  const waiting: Array<(message: SocketMessage) => void> = []
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as SocketMessage
    const waiter = waiting.shift()
    if (waiter !== undefined) waiter(message)
    else queued.push(message)
  })
  // A connection that fails emits 'error' then 'close': the close is what a test awaits, and an
  // error with no listener would end the process (a load generator's, opening thousands).
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  ws.on('error', () => {})
  await once(ws, 'open')
  if (subscribe !== undefined) ws.send(JSON.stringify({ type: 'subscribe', ...subscribe }))
  return {
    ws,
    closed,
    next () {
      const message = queued.shift()
      if (message !== undefined) return Promise.resolve(message)
      return new Promise((resolve, reject) => {
        waiting.push(resolve)
        closed.then((code) => reject(new Error(`socket closed (${code}) before the next message`)), reject)
      })
    }
  }
}

/** Reads messages until one with `status`; the statuses passed on the way are returned too. */
export async function waitForStatus (socket: LoginSocket, status: string): Promise<{ message: SocketMessage, seen: string[] }> {
  const seen: string[] = []
  for (;;) {
    const message = await socket.next()
    // The socket sends an error instead of a status before it closes: recorded, so a test can tell.
    seen.push(message.status ?? `error:${message.error ?? ''}`)
    if (message.status === status) return { message, seen }
  }
}
