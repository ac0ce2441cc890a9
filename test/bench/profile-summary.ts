/**
 * `node dist/test/bench/profile-summary.js FILE.cpuprofile [N]`: the N (20) functions with the most
 * self time in a V8 CPU profile (BENCH_PROFILE_DIR), and the share of each package, so the hot spots
 * of a run read without opening DevTools.
 */
import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number } }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const [file, count = '20'] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: profile-summary FILE.cpuprofile [N]')
  process.exit(1)
}
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const selfTime = new Map<string, number>()
const byPackage = new Map<string, number>()
let total = 0
for (const [index, id] of profile.samples.entries()) {
  const delta = profile.timeDeltas[index] ?? 0
  const frame = byId.get(id)?.callFrame
  if (frame === undefined) continue
  const path = frame.url.startsWith('file:') ? fileURLToPath(frame.url) : frame.url
  const where = path.startsWith('/') ? relative(process.cwd(), path) : path
  const name = `${frame.functionName || '(anonymous)'} ${where}${where === '' ? '' : `:${frame.lineNumber + 1}`}`
  selfTime.set(name, (selfTime.get(name) ?? 0) + delta)
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ?? (where === '' ? frame.functionName : where.startsWith('node:') ? 'node' : 'ours')
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta)
  total += delta
}
const share = (micros: number) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`
console.log(`${(total / 1e6).toFixed(1)} s sampled; self time by function:`)
for (const [name, micros] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) console.log(`${share(micros)}  ${name}`)
console.log('\nby package:')
for (const [name, micros] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${share(micros)}  ${name}`)
