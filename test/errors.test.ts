import t from 'tap'
import { isBackendUnavailable } from '../src/errors.js'

t.test("Redis' ways of being unavailable become 503s; other errors do not", async (t) => {
  const unavailable = [
    Object.assign(new Error('Reached the max retries per request limit (which is 1).'), { name: 'MaxRetriesPerRequestError' }),
    new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    new Error('Connection is closed.'),
    new Error('Command timed out'),
    new Error("READONLY You can't write against a read only replica."),
    new Error('LOADING Redis is loading the dataset in memory'),
    new Error("OOM command not allowed when used memory > 'maxmemory'."),
    new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 3785 127.0.0.1:37649'),
    new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })
  ]
  for (const error of unavailable) t.ok(isBackendUnavailable(error), error.message)
  for (const error of [new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), new TypeError('x is undefined'), 'a string']) {
    t.notOk(isBackendUnavailable(error), String(error))
  }
})
