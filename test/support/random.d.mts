/** The same sequence in [0, 1) for the same seed (mulberry32). */
export { seededRandom } from '../../tools/src/simulate/seeded-random.js'
/** An integer in [0, n) drawn from `random`. */
export function randomInt (random: () => number, n: number): number
/** `length` bytes drawn from `random`. */
export function randomBytes (random: () => number, length: number): Buffer
