import type { TextSpace } from '../replica/node-storage.js'
import { durable } from '../replica/node-storage.js'

const GENERATION_KEY = 'generation'

/**
 * The generation this process gossips: larger than every generation an earlier process of this
 * data directory used, and normally its start time in ms (so a wiped directory still starts above
 * its last life unless the clock went back). Stored (fsynced) before it is used, so it only increases.
 */
export async function nextGeneration (meta: TextSpace, now: number = Date.now()): Promise<number> {
  return await raiseGeneration(meta, now)
}

/**
 * Persist and return a generation of at least `atLeast` and above the stored one: what a node does
 * when gossip shows its own id at a higher generation than its own (see Membership).
 */
export async function raiseGeneration (meta: TextSpace, atLeast: number): Promise<number> {
  const stored = await meta.get(GENERATION_KEY)
  const previous = stored === undefined ? 0 : Number(stored)
  const generation = Math.max(Math.floor(atLeast), (Number.isSafeInteger(previous) ? previous : 0) + 1)
  await meta.put(GENERATION_KEY, String(generation), durable(true))
  return generation
}
