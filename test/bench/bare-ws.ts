/**
 * The memory floor of an idle socket: a bare `ws` server on Node's http server that accepts
 * sockets and reads their one message, nothing else. Measured exactly as the service is.
 */
import { createServer } from 'node:http'
import { once } from 'node:events'
import { WebSocketServer } from 'ws'
import { settledMemory } from './memory.js'
import { announce, handleTasks } from './tasks.js'

const server = createServer()
const sockets = new WebSocketServer({ server })
sockets.on('connection', (socket) => { socket.once('message', () => {}) })
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const { port } = server.address() as { port: number }
handleTasks({ memory: settledMemory })
announce({ url: `http://127.0.0.1:${port}` })
