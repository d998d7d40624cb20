// The tests' one seeded PRNG: a failure reproduces from its seed. Plain JavaScript so that the child
// processes the durability tests kill (plain node, no TypeScript) share it with the tests themselves.

// The generator itself is the simulator's (tools/src/simulate/seeded-random.ts), built into dist/
// (npm test builds first), so that plain-node children and tests draw the same sequences from one copy.
export { seededRandom } from '../../dist/tools/src/simulate/seeded-random.js'

/**
 * An integer in [0, n) drawn from `random`.
 * @param {() => number} random
 * @param {number} n
 * @returns {number}
 */
export function randomInt (random, n) {
  return Math.floor(random() * n)
}

/**
 * `length` bytes drawn from `random`.
 * @param {() => number} random
 * @param {number} length
 * @returns {Buffer}
 */
export function randomBytes (random, length) {
  const bytes = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256)
  return bytes
}
