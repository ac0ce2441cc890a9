/**
 * Exponential with "equal jitter": half the step fixed (so it grows), half random (so callers that
 * failed together spread out). `attempt` counts from 0; the step doubles from `baseMs` up to `maxMs`.
 */
export function backoffDelay (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** attempt)
  return Math.round(step / 2 + random() * step / 2)
}
