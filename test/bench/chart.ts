/**
 * bench/scan-to-page.svg: the distribution (CDF) of push-to-page latency, ours against the inline
 * floor and the polling pages, on a log-scale time axis. Hand-written SVG: no dependency, readable
 * on GitHub and in any browser.
 */
import { percentile } from './stats.js'

export interface Series {
  /** Also the element's id in the SVG. */
  id: string
  label: string
  color: string
  /** Sorted, ms. */
  values: readonly number[]
}

const WIDTH = 800
const HEIGHT = 440
const PLOT = { left: 70, right: 780, top: 40, bottom: 330 }
/** At most this many points a line: the shape of 10 000 samples needs no more. */
const MAX_POINTS = 400

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function formatMs (ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`
  return `${ms} ms`
}

export function latencyChart (title: string, series: readonly Series[]): string {
  const all = series.flatMap((one) => [one.values[0], one.values.at(-1)]).filter((value): value is number => value !== undefined && value > 0)
  const low = Math.floor(Math.log10(Math.min(...all, 1)))
  const high = Math.ceil(Math.log10(Math.max(...all, 10)))
  const x = (ms: number) => PLOT.left + ((Math.log10(Math.max(ms, 10 ** low)) - low) / (high - low)) * (PLOT.right - PLOT.left)
  const y = (fraction: number) => PLOT.bottom - fraction * (PLOT.bottom - PLOT.top)
  const parts: string[] = []
  parts.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#999"/>`)
  for (let decade = low; decade <= high; decade++) {
    const at = x(10 ** decade).toFixed(1)
    parts.push(`<line x1="${at}" y1="${PLOT.top}" x2="${at}" y2="${PLOT.bottom}" stroke="#ddd"/>`)
    parts.push(`<text x="${at}" y="${PLOT.bottom + 18}" text-anchor="middle">${formatMs(10 ** decade)}</text>`)
  }
  for (const fraction of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    const at = y(fraction).toFixed(1)
    parts.push(`<line x1="${PLOT.left}" y1="${at}" x2="${PLOT.right}" y2="${at}" stroke="#eee"/>`)
    parts.push(`<text x="${PLOT.left - 8}" y="${at}" text-anchor="end" dominant-baseline="middle">${Math.round(fraction * 100)}%</text>`)
  }
  parts.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 40}" text-anchor="middle">WeChat's push to the page showing "confirmed" (log scale)</text>`)
  parts.push(`<text transform="translate(18 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">logins confirmed on the page within</text>`)
  for (const [index, one] of series.entries()) {
    const step = Math.max(1, Math.ceil(one.values.length / MAX_POINTS))
    const points: string[] = []
    for (let i = 0; i < one.values.length; i += step) {
      const value = one.values[i] ?? 0
      points.push(`${x(value).toFixed(1)},${y(i / one.values.length).toFixed(1)}`)
    }
    const last = one.values.at(-1)
    if (last !== undefined) points.push(`${x(last).toFixed(1)},${y(1).toFixed(1)}`)
    parts.push(`<polyline id="${one.id}" fill="none" stroke="${one.color}" stroke-width="2" points="${points.join(' ')}"/>`)
    const legendY = PLOT.bottom + 62 + index * 18
    const figures = `p50 ${percentile(one.values, 50).toFixed(1)} ms, p99 ${percentile(one.values, 99).toFixed(1)} ms, ${one.values.length} logins`
    parts.push(`<line x1="${PLOT.left}" y1="${legendY}" x2="${PLOT.left + 24}" y2="${legendY}" stroke="${one.color}" stroke-width="3"/>`)
    parts.push(`<text x="${PLOT.left + 32}" y="${legendY}" dominant-baseline="middle">${escape(one.label)}: ${figures}</text>`)
  }
  // Room below the plot for every legend line.
  const height = Math.max(HEIGHT, PLOT.bottom + 62 + series.length * 18)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`,
    ...parts,
    '</svg>',
    ''
  ].join('\n')
}
