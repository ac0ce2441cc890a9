/** The WeChat APIs the emulator answers, by the names our client uses in its errors. */
export const EMULATED_APIS = ['token', 'stable_token', 'qrcode/create', 'user/info'] as const
export type EmulatedApi = typeof EMULATED_APIS[number]
export type FaultTarget = EmulatedApi | '*'

/** `reset`: the connection is destroyed without an answer; `503`: an HTTP 503 with no WeChat JSON. */
export type DownMode = 'reset' | '503'

export interface FaultSpec {
  api: FaultTarget
  /** Answer this errcode instead of doing the call (e.g. -1 busy, 45009 quota, 40164 IP whitelist). */
  errcode?: number
  /** Answer this much later (added to every other latency fault that applies). */
  latencyMs?: number
  /** Do not answer as WeChat at all; `true` means `reset`. */
  down?: boolean | DownMode
  /** For the next N calls only. Without `times` and `durationMs` the fault stays until cleared. */
  times?: number
  /** For this long from now only. */
  durationMs?: number
}

export interface ActiveFault {
  id: number
  api: FaultTarget
  errcode: number | null
  latencyMs: number
  down: DownMode | null
  /** Calls left, or null for "any number". */
  remaining: number | null
  /** Epoch ms after which the fault is gone, or null. */
  until: number | null
}

/** What one call suffers. `down` wins over `errcode`; latencies add up. */
export interface AppliedFaults {
  errcode: number | null
  latencyMs: number
  down: DownMode | null
}

export interface Faults {
  inject (spec: FaultSpec): ActiveFault
  /** `errcode` for the next `times` calls (default 1). */
  errcode (api: FaultTarget, errcode: number, times?: number): ActiveFault
  /** `ms` of latency for the next `times` calls, or until cleared when `times` is absent. */
  latency (api: FaultTarget, ms: number, times?: number): ActiveFault
  /** No answer for the next `times` calls or for `durationMs`; until cleared when both are absent. */
  down (api: FaultTarget, options?: { times?: number, durationMs?: number, mode?: DownMode }): ActiveFault
  /** Clears every fault, or only those injected for exactly `api`. */
  clear (api?: FaultTarget): void
  list (): ActiveFault[]
  /** Consumes the faults that apply to one call of `api`. */
  take (api: EmulatedApi): AppliedFaults
}

export const MAX_LATENCY_MS = 120_000

function isFaultTarget (value: unknown): value is FaultTarget {
  return value === '*' || (EMULATED_APIS as readonly unknown[]).includes(value)
}

function checkSpec (spec: FaultSpec): void {
  if (!isFaultTarget(spec.api)) throw new RangeError(`api must be one of ${[...EMULATED_APIS, '*'].join(', ')}`)
  const { errcode, latencyMs, down, times, durationMs } = spec
  if (errcode !== undefined && (!Number.isInteger(errcode) || errcode === 0)) throw new RangeError('errcode must be a non-zero integer')
  if (latencyMs !== undefined && (!Number.isInteger(latencyMs) || latencyMs < 0 || latencyMs > MAX_LATENCY_MS)) {
    throw new RangeError(`latencyMs must be an integer from 0 to ${MAX_LATENCY_MS}`)
  }
  if (down !== undefined && typeof down !== 'boolean' && down !== 'reset' && down !== '503') throw new RangeError('down must be true, "reset" or "503"')
  if (times !== undefined && (!Number.isInteger(times) || times < 1)) throw new RangeError('times must be a positive integer')
  if (durationMs !== undefined && (!Number.isInteger(durationMs) || durationMs < 1)) throw new RangeError('durationMs must be a positive integer')
  const isDown = down !== undefined && down !== false
  if (isDown && errcode !== undefined) throw new RangeError('a fault is either down or an errcode, not both')
  if (!isDown && errcode === undefined && (latencyMs ?? 0) === 0) throw new RangeError('a fault needs errcode, latencyMs or down')
}

export function createFaults (now: () => number): Faults {
  let nextId = 1
  let rules: ActiveFault[] = []

  function live (): ActiveFault[] {
    const at = now()
    rules = rules.filter((rule) => (rule.remaining === null || rule.remaining > 0) && (rule.until === null || at < rule.until))
    return rules
  }

  function consume (rule: ActiveFault): void {
    if (rule.remaining !== null) rule.remaining -= 1
  }

  const faults: Faults = {
    inject (spec) {
      checkSpec(spec)
      const rule: ActiveFault = {
        id: nextId++,
        api: spec.api,
        errcode: spec.errcode ?? null,
        latencyMs: spec.latencyMs ?? 0,
        down: spec.down === undefined || spec.down === false ? null : spec.down === true ? 'reset' : spec.down,
        remaining: spec.times ?? null,
        until: spec.durationMs === undefined ? null : now() + spec.durationMs
      }
      rules.push(rule)
      return { ...rule }
    },
    errcode (api, errcode, times = 1) {
      return faults.inject({ api, errcode, times })
    },
    latency (api, ms, times) {
      return faults.inject({ api, latencyMs: ms, times })
    },
    down (api, { times, durationMs, mode = 'reset' } = {}) {
      return faults.inject({ api, down: mode, times, durationMs })
    },
    clear (api) {
      rules = api === undefined ? [] : rules.filter((rule) => rule.api !== api)
    },
    list () {
      return live().map((rule) => ({ ...rule }))
    },
    take (api) {
      const matching = live().filter((rule) => rule.api === api || rule.api === '*')
      const applied: AppliedFaults = { errcode: null, latencyMs: 0, down: null }
      // A call that is down never reaches the errcode rules: they stay for the calls after it.
      const downRule = matching.find((rule) => rule.down !== null)
      const errcodeRule = downRule === undefined ? matching.find((rule) => rule.errcode !== null) : undefined
      for (const rule of matching) {
        const used = rule === downRule || rule === errcodeRule || rule.latencyMs > 0
        if (!used) continue
        applied.latencyMs += rule.latencyMs
        if (rule === downRule) applied.down = rule.down
        if (rule === errcodeRule) applied.errcode = rule.errcode
        consume(rule)
      }
      return applied
    }
  }
  return faults
}
