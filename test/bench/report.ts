/**
 * What `npm run bench` reports: every figure as ours, its baseline measured in the same run, their
 * ratio, and the target it is held to. Written as bench/results.json and printed as a table.
 */
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os'

/** A target on the ratio (ours / baseline), or on our own figure when there is no fair ratio to hold. */
export type Target =
  | { ratioAtMost: number, goal?: number }
  | { ratioAtLeast: number, goal?: number }
  | { oursBelow: number }
  | { oursEquals: number }

export interface Figure {
  name: string
  unit: string
  ours: number
  baseline: number
  /** ours / baseline. */
  ratio: number
  target: Target | null
  /** null when there is no target. */
  pass: boolean | null
}

export interface Scenario {
  id: string
  title: string
  /** What "baseline" is in this scenario. */
  baseline: string
  figures: Figure[]
  /** Counts, failures and anything else worth keeping. */
  detail: Record<string, unknown>
}

export interface Machine {
  cores: number
  cpu: string
  memoryGiB: number
  os: string
  node: string
  redis: string
  /** 1-minute load average when the run began: the machine is shared, figures are ratios for that reason. */
  loadAverage: number
}

export interface Results {
  generatedAt: string
  scale: string
  machine: Machine
  scenarios: Scenario[]
  /** Push-to-page latencies (ms, sorted) behind the chart. */
  series: Record<string, number[]>
}

export function figure (name: string, unit: string, ours: number, baseline: number, target: Target | null = null): Figure {
  const ratio = ours / baseline
  return { name, unit, ours, baseline, ratio, target, pass: target === null ? null : meets(target, ours, ratio) }
}

export function meets (target: Target, ours: number, ratio: number): boolean {
  if ('ratioAtMost' in target) return ratio <= target.ratioAtMost
  if ('ratioAtLeast' in target) return ratio >= target.ratioAtLeast
  if ('oursBelow' in target) return ours < target.oursBelow
  return ours === target.oursEquals
}

function describe (target: Target | null): string {
  if (target === null) return ''
  if ('ratioAtMost' in target) return `≤ ${target.ratioAtMost}x${target.goal === undefined ? '' : ` (goal ${target.goal}x)`}`
  if ('ratioAtLeast' in target) return `≥ ${target.ratioAtLeast}x${target.goal === undefined ? '' : ` (goal ${target.goal}x)`}`
  if ('oursBelow' in target) return `ours < ${target.oursBelow}`
  return `ours = ${target.oursEquals}`
}

export function machine (redisVersion: string): Machine {
  const [first] = cpus()
  return {
    cores: cpus().length,
    cpu: first?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.version,
    redis: redisVersion,
    loadAverage: Number(loadavg()[0]?.toFixed(2))
  }
}

const shown = (value: number): string => Number.isInteger(value) ? String(value) : value >= 100 ? value.toFixed(0) : value.toFixed(2)

export function table ({ machine, scenarios, scale }: Results): string {
  const header = ['scenario', 'figure', 'ours', 'baseline', 'ratio', 'target', '']
  const rows = scenarios.flatMap((scenario) => scenario.figures.map((row, index) => [
    index === 0 ? scenario.title : '', `${row.name} (${row.unit})`, shown(row.ours), shown(row.baseline), `${row.ratio.toFixed(2)}x`, describe(row.target), row.pass === null ? '' : row.pass ? 'pass' : 'FAIL'
  ]))
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => (row[column] ?? '').length)))
  const line = (row: string[]) => row.map((cell, column) => column >= 2 && column <= 4 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()
  return [
    `wechat-qr-login bench (${scale}): ${machine.cores} cores ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}, Redis ${machine.redis}, load ${machine.loadAverage}`,
    line(header),
    ...rows.map(line),
    '',
    'baselines:',
    ...scenarios.map((scenario) => `  ${scenario.title}: ${scenario.baseline}`)
  ].join('\n')
}
