import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import fc from 'fast-check'
import { LsmLevel } from 'lsm-level'
import { tempRoot } from '../../support/temp-dir.js'

// A write group's entries go into the memtable sorted by key (newest first within a key), each found from
// where the one before it went in, not in the order the batch gives them. Whatever the order, duplicates,
// deletes and single writes between the batches, reads and iteration must answer as the batches applied in
// op order, and so must the database reopened from its commit log.

const root = tempRoot('lsm-batch-insert')

type Op = { type: 'put', key: string, value: string } | { type: 'del', key: string }
type Step =
  | { t: 'batch', ops: Op[] }
  | { t: 'put', key: string, value: string }
  | { t: 'del', key: string }
  | { t: 'together', batches: Op[][] }
  | { t: 'clear', gte: string, lt: string }

// A small key space, so a batch often writes one key more than once; keys that share long prefixes and are
// prefixes of each other.
const keyArb = fc.oneof(
  fc.integer({ min: 0, max: 59 }).map((i) => `k${String(i).padStart(3, '0')}`),
  fc.constantFrom('k', 'k0', 'k00', 'k000\x00', 'k0000', 'a', 'z\xff')
)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ type: fc.constant('put' as const), key: keyArb, value: fc.string({ maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('del' as const), key: keyArb }) }
)
const batchArb = fc.array(opArb, { maxLength: 60 })
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: batchArb.map((ops) => ({ t: 'batch' as const, ops })) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('put' as const), key: keyArb, value: fc.string({ maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('del' as const), key: keyArb }) },
  // Writers released together share one write group (one record, one memtable insert).
  { weight: 2, arbitrary: fc.array(batchArb, { minLength: 2, maxLength: 4 }).map((batches) => ({ t: 'together' as const, batches })) },
  { weight: 1, arbitrary: fc.tuple(keyArb, keyArb).map(([x, y]) => x <= y ? { t: 'clear' as const, gte: x, lt: y } : { t: 'clear' as const, gte: y, lt: x }) }
)

function applyOps (model: Map<string, string>, ops: Op[]): void {
  for (const op of ops) {
    if (op.type === 'put') model.set(op.key, op.value)
    else model.delete(op.key)
  }
}

async function expectModel (db: LsmLevel<string, string>, model: Map<string, string>, keys: string[]): Promise<void> {
  const expected = [...model.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  expect(await db.iterator().all()).toEqual(expected)
  expect(await db.iterator({ reverse: true }).all()).toEqual([...expected].reverse())
  expect(await db.getMany(keys)).toEqual(keys.map((k) => model.get(k)))
}

describe('batch inserts into the memtable', () => {
  it('random batches with duplicate keys, deletes, single writes and shared groups read as the model, also after reopen', async () => {
    let run = 0
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.boolean(), async (steps, smallMemtable) => {
      const dir = join(root, `run-${run++}`)
      // A small memtable is switched and flushed within a run, so reopening replays only the later logs.
      const options = { valueEncoding: 'utf8', writeBufferSize: smallMemtable ? 2048 : 4 * 1024 * 1024 }
      const db = new LsmLevel<string, string>(dir, options)
      await db.open()
      const model = new Map<string, string>()
      const keys = new Set<string>()
      for (const step of steps) {
        if (step.t === 'batch') {
          await db.batch(step.ops)
          applyOps(model, step.ops)
          for (const op of step.ops) keys.add(op.key)
        } else if (step.t === 'put') {
          await db.put(step.key, step.value)
          model.set(step.key, step.value)
          keys.add(step.key)
        } else if (step.t === 'del') {
          await db.del(step.key)
          model.delete(step.key)
          keys.add(step.key)
        } else if (step.t === 'together') {
          await Promise.all(step.batches.map((ops) => db.batch(ops)))
          for (const ops of step.batches) {
            applyOps(model, ops)
            for (const op of ops) keys.add(op.key)
          }
        } else {
          await db.clear({ gte: step.gte, lt: step.lt })
          for (const k of [...model.keys()]) if (k >= step.gte && k < step.lt) model.delete(k)
        }
      }
      const probe = [...keys, 'k999', '']
      await expectModel(db, model, probe)
      await db.close()
      const reopened = new LsmLevel<string, string>(dir, options)
      await reopened.open()
      await expectModel(reopened, model, probe)
      await reopened.close()
    }), { numRuns: 40, seed: 20261206 })
  }, 120_000)
})
