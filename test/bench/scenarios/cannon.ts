import type { CannonResult, CannonTask } from '../generator.js'
import { mean } from '../stats.js'
import type { BenchChild } from '../tasks.js'

export interface Rounds {
  ours: CannonResult[]
  floor: CannonResult[]
}

/**
 * autocannon from the generator's process: a discarded one-second warm-up of each, then rounds of
 * the floor and ours in turn.
 */
export async function cannonRounds (generator: BenchChild, kind: CannonTask['kind'], urls: { ours: string, floor: string }, { rounds, seconds, connections }: { rounds: number, seconds: number, connections: number }): Promise<Rounds> {
  const run = (url: string, duration: number) => generator.call<CannonResult>('cannon', { kind, url, connections, seconds: duration } satisfies CannonTask)
  await run(urls.floor, 1)
  await run(urls.ours, 1)
  const result: Rounds = { ours: [], floor: [] }
  for (let round = 0; round < rounds; round++) {
    result.floor.push(await run(urls.floor, seconds))
    result.ours.push(await run(urls.ours, seconds))
  }
  return result
}

/** A figure's two sides: the mean over the rounds of each (the rounds are equally long). */
export function averaged (rounds: Rounds, pick: (round: CannonResult) => number): [ours: number, floor: number] {
  return [mean(rounds.ours.map(pick)), mean(rounds.floor.map(pick))]
}
