import { runProcess } from './process.js'

/** The HTTP server (and, unless RUN_WORKER=0, the queue worker): `npm start`. */
await runProcess('server')
