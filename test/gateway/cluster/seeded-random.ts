// Only test/engine/format/memtable.test.ts still imports this path; the PRNG is test/support's.
// Remove this file once that test imports seededRandom from test/support/random.mjs.
export { seededRandom } from '../../support/random.mjs'
