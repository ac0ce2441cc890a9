/**
 * Preloaded (node --expose-gc --import …/memory-probe.js) into a measured service process, so the
 * benchmark reads its settled memory over IPC exactly as it reads the bare ws server's. Leaves the
 * process to end as it would without it.
 */
import { settledMemory } from './memory.js'
import { handleTasks } from './tasks.js'

handleTasks({ memory: settledMemory }, { keepAlive: false })
