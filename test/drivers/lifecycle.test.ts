import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { driverMatrix, type DriverCase } from './matrix.js'

function lifecycleContract (t: Test, driver: DriverCase): void {
  t.test('ready, healthy, and close twice', async (t) => {
    const { drivers } = await driver.create(t)
    t.equal(drivers.mode, driver.name)
    t.equal(await drivers.healthy(), true)
    await drivers.close()
    await drivers.close()
    t.pass('a second close is harmless')
  })
}

for (const driver of driverMatrix('lifecycle')) {
  t.test(`Drivers lifecycle: ${driver.name}`, async (t) => lifecycleContract(t, driver))
}

t.test('embedded drivers let the process exit once closed, even with a retry pending', async (t) => {
  const driversModule = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'drivers', 'index.js')).href
  const configModule = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'config.js')).href
  const script = `
    const { createDrivers } = await import(${JSON.stringify(driversModule)})
    const { loadConfig } = await import(${JSON.stringify(configModule)})
    const drivers = createDrivers(loadConfig({
      WECHAT_APP_ID: 'wxexit', WECHAT_APP_SECRET: 'secret', WECHAT_TOKEN: 'exittoken', API_KEY: 'exit-api-key-0123456789'
    }))
    await drivers.ready()
    const noop = () => {}
    const log = { fatal: noop, error: noop, warn: noop, info: noop, debug: noop }
    let failed
    const attempted = new Promise((resolve) => { failed = resolve })
    drivers.startScanWorker(async () => { failed(); throw new Error('retry me') }, { concurrency: 1, log })
    await drivers.scanQueue.enqueue({ scene: 's', openid: 'o', event: 'SCAN', createTime: '1' }, 'k')
    await attempted
    await drivers.loginStore.create({ scene: 's', secretHash: 'h', status: 'pending', createdAt: Date.now(), expiresAt: Date.now() + 60000 }, 60000)
    await drivers.loginBus.subscribe('s', noop)
    await drivers.close()
    console.log('closed')
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  // Bounded: a leaked timer would keep the child alive for good.
  const killer = setTimeout(() => child.kill(), 10_000)
  const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null]
  clearTimeout(killer)
  t.equal(output.trim(), 'closed')
  t.equal(signal, null, 'exited by itself, not killed')
  t.equal(code, 0)
})
