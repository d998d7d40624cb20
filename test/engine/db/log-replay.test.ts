import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { tempRoot } from '../../support/temp-dir.js'

// Opening a database replays each commit-log record into the memtable in one piece (its bytes copied into
// the arena at once, its entries linked sorted, as the write path does). A record may write a key more than
// once, delete keys, and clear ranges. The database is copied while open (what a process crash leaves: every
// write in the log, none in a table); the copy, opened read-only (replayed into memory) and read-write
// (replayed into level-0 tables, several memtables' worth), must read exactly as the model says.

const root = tempRoot('lsm-log-replay')

type Op = { type: 'put', key: string, value: string } | { type: 'del', key: string } | { type: 'clear', gte: string, lt: string }

const key = fc.integer({ min: 0, max: 400 }).map((i) => `k${String(i).padStart(4, '0')}`)
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ type: fc.constant('put' as const), key, value: fc.string({ maxLength: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('del' as const), key }) },
  { weight: 1, arbitrary: fc.tuple(key, key).map(([a, b]) => ({ type: 'clear' as const, gte: a < b ? a : b, lt: a < b ? b : a })) }
)
// Batches of up to 300 ops: past the memtable's threshold for linking a group sorted, and repeating keys.
const history = fc.array(fc.array(op, { minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 12 })

function apply (model: Map<string, string>, ops: Op[]): void {
  for (const o of ops) {
    if (o.type === 'put') model.set(o.key, o.value)
    else if (o.type === 'del') model.delete(o.key)
    else for (const k of [...model.keys()]) if (k >= o.gte && k < o.lt) model.delete(k)
  }
}

async function contents (db: LsmLevel<string, string>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = []
  for await (const entry of db.iterator()) out.push(entry)
  return out
}

let run = 0

/** Every file's name and size: what a copy of the directory must not see change under it. */
function listing (dir: string): string {
  const names = readdirSync(dir).sort()
  return names.map((n) => { try { return `${n}:${statSync(join(dir, n)).size}` } catch { return `${n}:gone` } }).join()
}

/**
 * Copy an open database as a crash would leave it: a flush a clear() asked for may finish (writing a table,
 * deleting the log it replaced) while the files are copied, and a copy that saw both states is no state the
 * process was ever in. So the copy is taken again until the directory did not change while it was copied.
 */
async function copyAtRest (dir: string, image: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = listing(dir)
    try {
      cpSync(dir, image, { recursive: true })
      if (listing(dir) === before) return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    rmSync(image, { recursive: true, force: true })
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`${dir} kept changing while it was copied`)
}

describe('log replay at open', () => {
  it('reads as the history wrote, whether the replay stays in memory or goes to level-0 tables', async () => {
    await fc.assert(fc.asyncProperty(history, async (batches) => {
      const dir = join(root, `live-${run}`)
      const image = join(root, `image-${run++}`)
      const db = new LsmLevel<string, string>(dir, { writeBufferSize: 64 * 1024 * 1024 })
      await db.open()
      const model = new Map<string, string>()
      for (const ops of batches) {
        // clear() is its own write: split the batch around each.
        let points: Op[] = []
        const flush = async (): Promise<void> => {
          if (points.length > 0) await db.batch(points.map((o) => o.type === 'put' ? { type: 'put' as const, key: o.key, value: o.value } : { type: 'del' as const, key: (o as { key: string }).key }))
          points = []
        }
        for (const o of ops) {
          if (o.type === 'clear') {
            await flush()
            await db.clear({ gte: o.gte, lt: o.lt })
          } else {
            points.push(o)
          }
        }
        await flush()
        apply(model, ops)
      }
      // Without a clear() (which asks for a flush, to retire its tombstone soon) nothing reached a table: every
      // write is in the log alone.
      if (!batches.flat().some((o) => o.type === 'clear')) expect(readdirSync(dir).some((n) => n.endsWith('.sst'))).toBe(false)
      await copyAtRest(dir, image)
      await db.close()
      const expected = [...model.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))

      const inMemory = new LsmLevel<string, string>(image, { readOnly: true })
      await inMemory.open()
      expect(await contents(inMemory)).toEqual(expected)
      await inMemory.close()

      // A small write buffer: the replay fills and writes several memtables.
      const reopened = new LsmLevel<string, string>(image, { writeBufferSize: 64 * 1024 })
      await reopened.open()
      expect(await contents(reopened)).toEqual(expected)
      for (const k of ['k0000', 'k0007', 'k0200', 'k0400']) expect(await reopened.get(k)).toBe(model.get(k))
      await reopened.close()
    }), { numRuns: 20 })
  }, 120_000)
})
