// The tests' one seeded PRNG: a failure reproduces from its seed. Plain JavaScript so that the child
// processes the durability tests kill (plain node, no TypeScript) share it with the tests themselves.

/**
 * mulberry32: a fast 32-bit generator, good enough for test data (not for anything secret).
 * @param {number} seed
 * @returns {() => number} the same sequence in [0, 1) for the same seed
 */
export function seededRandom (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

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
