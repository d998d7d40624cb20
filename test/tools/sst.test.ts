import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { expectOneLineFailure, isDeleted, KEY_COUNT, keyOf, levelring, levelringJson, valueOf, writeKnownDatabase } from './levelring-cli.js'
import { tempRoot } from '../support/temp-dir.js'

// `levelring sst ...` run as a child process on tables the engine wrote.

const root = tempRoot('levelring-sst')
let dir: string
let tables: string[]

beforeAll(async () => {
  dir = join(root, 'db')
  await writeKnownDatabase(dir)
  tables = readdirSync(dir).filter((n) => n.endsWith('.sst')).sort().map((n) => join(dir, n))
})

interface ScanEntry { key: string, seq: number, kind: string, value?: string, valueSize?: number }

describe('on intact tables', () => {
  test('scan --json of every table gives back every put and every deletion written, and matches each table\'s properties', async () => {
    const scans = await Promise.all(tables.map(async (t) => await levelringJson<{ file: string, entries: ScanEntry[], count: number }>(['sst', 'scan', t])))
    const props = await levelringJson<{ tables: Array<{ file: string, properties: { entries: number, deletions: number } }> }>(['sst', 'properties', dir])
    expect(props.tables.map((t) => t.file)).toEqual(tables)
    const puts = new Map<string, string>()
    const deletions = new Set<string>()
    scans.forEach((scan, i) => {
      expect(scan.count).toBe(scan.entries.length)
      expect(scan.entries.length).toBe(props.tables[i].properties.entries)
      expect(scan.entries.filter((e) => e.kind === 'delete').length).toBe(props.tables[i].properties.deletions)
      for (const e of scan.entries) {
        if (e.kind === 'put') { puts.set(e.key, e.value!); expect(e.valueSize).toBe(e.value!.length) } else deletions.add(e.key)
      }
    })
    // Compaction may have dropped older versions, but every surviving put holds the value written, and every
    // key is still present as a put or as its tombstone.
    for (let i = 0; i < KEY_COUNT; i++) {
      if (puts.has(keyOf(i))) expect(puts.get(keyOf(i))).toBe(valueOf(i))
      expect(puts.has(keyOf(i)) || deletions.has(keyOf(i))).toBe(true)
      if (!isDeleted(i)) expect(puts.has(keyOf(i))).toBe(true)
    }
  })

  test('scan: --from/--to/--prefix/--limit select entries; --internal shows sequence and kind; --encoding hex', async () => {
    const table = tables[tables.length - 1]
    const all = (await levelringJson<{ entries: ScanEntry[] }>(['sst', 'scan', table])).entries
    const some = all.slice(2, 7)
    const ranged = await levelringJson<{ entries: ScanEntry[] }>(['sst', 'scan', table, '--from', some[0].key, '--limit', '5'])
    expect(ranged.entries.map((e) => e.key)).toEqual(all.filter((e) => e.key >= some[0].key).slice(0, 5).map((e) => e.key))
    const upTo = await levelringJson<{ entries: ScanEntry[] }>(['sst', 'scan', table, '--to', some[0].key])
    expect(upTo.entries).toEqual(all.filter((e) => e.key < some[0].key))
    const prefix = some[0].key.slice(0, 7)
    const byPrefix = await levelringJson<{ entries: ScanEntry[] }>(['sst', 'scan', table, '--prefix', prefix])
    expect(byPrefix.entries).toEqual(all.filter((e) => e.key.startsWith(prefix)))

    const text = await levelring(['sst', 'scan', table, '--internal', '--limit', '3'])
    expect(text.code).toBe(0)
    expect(text.stdout.trimEnd().split('\n')).toEqual(all.slice(0, 3).map((e) =>
      e.kind === 'put' ? `${e.key} @${e.seq} put => ${e.value!}` : `${e.key} @${e.seq} delete (deleted)`))
    const hex = await levelringJson<{ entries: ScanEntry[] }>(['sst', 'scan', table, '--encoding', 'hex', '--limit', '1'])
    expect(Buffer.from(hex.entries[0].key, 'hex').toString()).toBe(all[0].key)
  })

  test('properties, layout and check agree with each other and with the file size', async () => {
    // The first table came from level 0 and then compaction: several data blocks.
    const table = tables[0]
    const [props, layout, check] = await Promise.all([
      levelringJson(['sst', 'properties', table]),
      levelringJson(['sst', 'layout', table]),
      levelringJson(['sst', 'check', table])
    ])
    const p = props.tables[0].properties
    expect(p.formatVersion).toBe(2)
    expect(p.filterBitsPerKey).toBe(10)
    expect(p.minSequence).toBeLessThanOrEqual(p.maxSequence)
    expect(p.smallestKey.key <= p.largestKey.key).toBe(true)
    expect(layout.dataBlocks).toHaveLength(p.dataBlocks)
    expect(layout.filter).toMatchObject({ kind: 'cache-local', bitsPerKey: 10, probes: 7, size: p.filterBytes })
    expect(layout.index.size).toBe(p.indexBytes)
    // The blocks tile the file: each starts where the previous one's trailer ends, and the footer ends the file.
    const parts = [...layout.dataBlocks, layout.filter, layout.properties, layout.index]
    for (let i = 1; i < parts.length; i++) expect(parts[i].offset).toBe(parts[i - 1].offset + parts[i - 1].size + 5)
    expect(layout.footer.offset + 64).toBe(layout.fileSize)
    expect(layout.fileSize).toBe(readFileSync(table).length)
    expect(check).toMatchObject({ ok: true, tables: [{ ok: true, entries: p.entries, deletions: p.deletions, dataBlocks: p.dataBlocks }] })

    const text = await levelring(['sst', 'layout', table])
    expect(text.stdout).toMatch(new RegExp(`^\\s+${layout.dataBlocks[1].offset}\\s+${layout.dataBlocks[1].size}\\s+data block 1$`, 'm'))
    expect(text.stdout).toMatch(/filter \(cache-local bloom, 10 bits per key, 7 probes\)/)
  })

  test('verify and check pass on every table of the directory; identify lists exactly the tables', async () => {
    const [verify, check, identify] = await Promise.all([
      levelring(['sst', 'verify', dir]),
      levelring(['sst', 'check', dir]),
      levelringJson<{ files: Array<{ file: string, sstable: boolean, readable: boolean, reason?: string }> }>(['sst', 'identify', dir])
    ])
    expect(verify.code).toBe(0)
    expect(verify.stdout.trimEnd().split('\n')).toHaveLength(tables.length)
    expect(verify.stdout).toMatch(/ok: \d+ data blocks, filter, properties, index and footer checksums verified/)
    expect(check.code).toBe(0)
    expect(check.stdout.match(/as the properties say/g)).toHaveLength(tables.length)
    expect(identify.files.filter((f) => f.sstable).map((f) => f.file)).toEqual(tables)
    expect(identify.files.find((f) => f.file.endsWith('CURRENT'))).toMatchObject({ sstable: false, readable: false, reason: expect.stringMatching(/shorter than a table footer/) })
    expect(identify.files.filter((f) => f.sstable).every((f) => f.readable)).toBe(true)
  })
})

describe('on damaged or foreign files', () => {
  test('a flipped byte in a data block: verify names the file and the block offset, check and scan fail, exit 1', async () => {
    const bad = join(root, 'damaged')
    mkdirSync(bad)
    const file = join(bad, '000099.sst')
    copyFileSync(tables[0], file)
    const layout = await levelringJson(['sst', 'layout', file])
    expect(layout.dataBlocks.length).toBeGreaterThan(2)
    const block = layout.dataBlocks[1]
    const bytes = readFileSync(file)
    bytes[block.offset + 10] ^= 0x40
    writeFileSync(file, bytes)

    const verify = await levelring(['sst', 'verify', file])
    expectOneLineFailure(verify, new RegExp(`${file}: damaged data block at offset ${block.offset}$`, 'm'))
    expect(verify.stdout).toMatch(new RegExp(`FAILED: 1 of ${layout.dataBlocks.length} data blocks damaged`))
    expect(verify.stdout).toMatch(new RegExp(`block at offset ${block.offset} \\(${block.size} bytes\\): LEVEL_CORRUPTION: data block checksum mismatch`))
    const json = await levelring(['sst', 'verify', file, '--json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, tables: [{ file, damaged: [{ offset: block.offset, size: block.size }] }] })

    const check = await levelring(['sst', 'check', file])
    expectOneLineFailure(check, new RegExp(`LEVEL_CORRUPTION: data block checksum mismatch .*\\(file ${file}, offset ${block.offset}\\)`))
    // A scan prints the entries of the intact block before the damaged one, then fails naming it.
    const scan = await levelring(['sst', 'scan', file])
    expectOneLineFailure(scan, new RegExp(`offset ${block.offset}\\)`))
    expect(scan.stdout.length).toBeGreaterThan(0)
  })

  test('a damaged index block is reported when the table is opened; a directory verify counts the damaged tables', async () => {
    const bad = join(root, 'bad-index')
    mkdirSync(bad)
    const file = join(bad, '000007.sst')
    copyFileSync(tables[0], file)
    copyFileSync(tables[1], join(bad, '000008.sst'))
    const layout = await levelringJson(['sst', 'layout', file])
    const bytes = readFileSync(file)
    bytes[layout.index.offset + 3] ^= 0x01
    writeFileSync(file, bytes)
    const r = await levelring(['sst', 'verify', bad])
    expectOneLineFailure(r, new RegExp(`1 of 2 tables damaged \\(first: LEVEL_CORRUPTION: index block checksum mismatch .*file ${file}, offset ${layout.index.offset}\\)`))
    expect(r.stdout).toMatch(/000008\.sst: ok/)
    // Still an SSTable by its magic number, but one that does not open.
    const identify = await levelring(['sst', 'identify', file])
    expectOneLineFailure(identify, /000007\.sst is an SSTable that does not open/)
    expect(identify.stdout).toMatch(/000007\.sst: SSTable, but it does not open: LEVEL_CORRUPTION: index block checksum mismatch/)
  })

  test('not an SSTable, a missing file, a directory where a file is needed: one line each, exit 1', async () => {
    const text = join(root, 'notes.txt')
    writeFileSync(text, 'this is not a table, but it is long enough to hold a footer: '.repeat(3))
    const [notTable, identify, missing, directory] = await Promise.all([
      levelring(['sst', 'scan', text]),
      levelring(['sst', 'identify', text]),
      levelring(['sst', 'properties', join(root, 'nope.sst')]),
      levelring(['sst', 'layout', dir])
    ])
    expectOneLineFailure(notTable, new RegExp(`LEVEL_CORRUPTION: not an SSTable: bad magic number .*file ${text}, offset ${readFileSync(text).length - 8}`))
    expectOneLineFailure(identify, /notes\.txt is not an SSTable/)
    expect(identify.stdout).toMatch(new RegExp(`notes\\.txt: not an SSTable: no SSTable magic number at offset ${readFileSync(text).length - 8}`))
    expectOneLineFailure(missing, /nope\.sst: no such file or directory \(ENOENT\)/)
    expectOneLineFailure(directory, /is a directory; this command reads one \.sst file/)
  })
})
