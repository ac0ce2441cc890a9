/**
 * Waits for `work` at most `ms`: true when it settled in time (fulfilled or rejected), false when
 * the deadline came first. `work` goes on running either way; its late rejection is observed here,
 * never left unhandled.
 */
export async function settlesWithin (work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), Math.max(0, ms)) })
  const settled = work.then(() => true as const, () => true as const)
  try {
    return await Promise.race([settled, deadline])
  } finally {
    clearTimeout(timer)
  }
}
