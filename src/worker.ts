import { runProcess } from './process.js'

/** A worker-only process: the same plugin graph without routes, listening on nothing: `npm run worker`. */
await runProcess('worker')
