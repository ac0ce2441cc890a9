/**
 * Token fetches: N instances start at once against a WeChat that has issued no token yet, one
 * Redis prefix, and each creates a login at the same moment (each needs the access token). The
 * emulator counts the calls to its token endpoints: one for the whole deployment, where instances
 * that did not share would make one each.
 */
import { createLogin } from '../../helper.js'
import type { EmulatorCounters } from '../../../src/emulator/types.js'
import { figure, type Scenario } from '../report.js'
import { startChild } from '../tasks.js'
import { inScope, scenarioPrefix, startOurs, type Bench } from '../stage.js'

export async function tokenFetches (bench: Bench): Promise<Scenario> {
  const processes = bench.scale.tokenProcesses
  return await inScope(async (scope) => {
    const emulator = await startChild(scope, 'emulator')
    const emulatorUrl = String(emulator.ready.url)
    const prefix = scenarioPrefix(scope, bench, 'tokens')
    const instances = await Promise.all(Array.from({ length: processes }, () => startOurs(scope, bench, { prefix, emulatorUrl, env: { RUN_WORKER: '0' } })))
    await Promise.all(instances.map((instance) => createLogin(instance)))
    const counters = await emulator.call<EmulatorCounters>('counters')
    return {
      id: 'token-fetches',
      title: `Access token fetches, ${processes} processes sharing one token`,
      baseline: 'one fetch per process (no sharing)',
      figures: [figure('token endpoint calls', 'calls', counters.tokenFetches, processes, { oursEquals: 1 })],
      detail: { processes, counters }
    }
  })
}
