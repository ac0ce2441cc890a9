/** Reading /metrics as Prometheus would: the text format, parsed into samples a test can look up. */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Scrape {
  status: number
  text: string
  samples: Sample[]
  /** The sum of the samples named `name` whose labels include `labels`; undefined when there is none. */
  value (name: string, labels?: Record<string, string>): number | undefined
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export function parseMetrics (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (match === null) throw new Error(`not a Prometheus sample: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, name, value] of (match[2] ?? '').matchAll(LABEL)) labels[name ?? ''] = value ?? ''
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) })
  }
  return samples
}

/** GET /metrics, with `token` as the bearer when given. */
export async function scrape (target: { url: string }, token?: string): Promise<Scrape> {
  const response = await fetch(`${target.url}/metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })
  const text = await response.text()
  const samples = response.status === 200 ? parseMetrics(text) : []
  return {
    status: response.status,
    text,
    samples,
    value (name, labels = {}) {
      const matching = samples.filter((sample) => sample.name === name &&
        Object.entries(labels).every(([label, value]) => sample.labels[label] === value))
      return matching.length === 0 ? undefined : matching.reduce((sum, sample) => sum + sample.value, 0)
    }
  }
}
