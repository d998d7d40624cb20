import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { tempRoot } from '../../support/temp-dir.js'

// String keys and values take a path of their own on writes: an ASCII key goes into the log record and the
// memtable as the string itself, a string value is written into the record as UTF-8 and the memtable keeps
// a slice of the record. Keys that are not ASCII take the Buffer path. Both must read back the same, from
// the memtable, from the log after a reopen and from tables, and sort by their UTF-8 bytes.

const root = tempRoot('lsm-string-writes')

const entries: Array<[string, string]> = [
  ['plain', 'ascii value'],
  ['zebra', 'ünïcödé välüe ✓'],
  ['äpfel', 'a key beyond ASCII'],
  ['\u007f', 'the last ASCII character'],
  ['\u0080', 'the first character past ASCII'],
  ['emoji-😀', '😀 four-byte value 😀'],
  ['empty-value', ''],
  ['a'.repeat(300), 'x'.repeat(5000)]
]
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

async function expectAll (db: LsmLevel<string, string>): Promise<void> {
  for (const [k, v] of entries) expect(await db.get(k)).toBe(v)
  expect(db.getSync('gone')).toBeUndefined()
  expect(await db.getMany(entries.map(([k]) => k))).toEqual(entries.map(([, v]) => v))
  const all = await db.iterator().all()
  expect(all).toEqual([...entries].sort((a, b) => byBytes(a[0], b[0])))
  // A Buffer view of the same keys finds the same entries.
  for (const [k, v] of entries) expect(await db.get(Buffer.from(k) as unknown as string, { keyEncoding: 'buffer' })).toBe(v)
}

describe('string keys and values on the write path', () => {
  it('read back the same from the memtable, the log and the tables', async () => {
    const location = join(root, 'db')
    let db = new LsmLevel<string, string>(location)
    await db.open()
    await db.put('gone', 'soon deleted')
    await db.batch([
      ...entries.slice(0, 4).map(([key, value]) => ({ type: 'put' as const, key, value })),
      { type: 'del' as const, key: 'gone' }
    ])
    for (const [key, value] of entries.slice(4)) await db.put(key, value)
    await expectAll(db) // memtable
    await db.close()

    db = new LsmLevel<string, string>(location)
    await db.open()
    await expectAll(db) // replayed from the log
    await db.compactRange('', '\uffff')
    await expectAll(db) // from tables
    await db.close()
  })

  it('checks the size of a string value by its UTF-8 bytes', async () => {
    const db = new LsmLevel<string, string>(join(root, 'sizes'), { maxValueSize: 30 })
    await db.open()
    await db.put('fits', 'x'.repeat(30))
    // 10 characters, 40 bytes of UTF-8.
    await expect(db.put('too-big', '😀'.repeat(10))).rejects.toMatchObject({ code: 'LEVEL_INVALID_VALUE' })
    expect(await db.get('too-big')).toBeUndefined()
    expect(await db.get('fits')).toBe('x'.repeat(30))
    await db.close()
  })
})
