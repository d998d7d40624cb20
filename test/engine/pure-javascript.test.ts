// With LSM_LEVEL_PURE_JS=1 the engine checksums and compresses with its JavaScript fallbacks (what runs where
// the native addons are missing): tables it writes read back natively and the other way round.
import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { tempRoot } from '../support/temp-dir.js'

const root = tempRoot('lsm-pure-js')
const engine = new URL('../../engine/dist/index.js', import.meta.url).href

let scripts = 0

/** Runs `body` in a child process with LsmLevel imported; returns what it prints, as JSON. */
function child (body: string, pureJs: boolean): any {
  const script = join(root, `script${scripts++}.mjs`)
  writeFileSync(script, `import { LsmLevel } from ${JSON.stringify(engine)}\n${body}`)
  const env = { ...process.env, LSM_LEVEL_PURE_JS: pureJs ? '1' : '' }
  return JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8', env }))
}

const WRITE = (dir: string): string => `
const db = new LsmLevel(${JSON.stringify(dir)}, { writeBufferSize: 64 * 1024 })
await db.open()
for (let b = 0; b < 20; b++) await db.batch(Array.from({ length: 500 }, (_, i) => ({ type: 'put', key: 'k' + String(b * 500 + i).padStart(6, '0'), value: ('value ' + i + ' ').repeat(8) })))
await db.compactRange('k', 'l')
const implementations = db.getProperty('lsm.implementations')
const files = db.getProperty('lsm.levels').reduce((n, l) => n + l.files, 0)
const bytes = await db.approximateSize('k', 'l')
await db.close()
process.stdout.write(JSON.stringify({ implementations, files, bytes }))`

async function readAll (dir: string): Promise<number> {
  const db = new LsmLevel<string, string>(dir)
  await db.open()
  let n = 0
  for await (const [key, value] of db.iterator()) {
    const i = Number(key.slice(1)) % 500
    expect(value).toBe(`value ${i} `.repeat(8))
    n++
  }
  await db.close()
  return n
}

describe('the JavaScript fallbacks', () => {
  it('LSM_LEVEL_PURE_JS=1 writes with them; natively written and JavaScript-written tables read in either', async () => {
    const js = join(root, 'js')
    const written = child(WRITE(js), true)
    expect(written.implementations).toEqual({ crc32c: 'javascript', lz4: 'javascript' })
    expect(written.files).toBeGreaterThan(0)
    // Compressed by lz4js's encoder: the 10,000 values of about 70 bytes take a fraction of their size.
    expect(written.bytes).toBeLessThan(10_000 * 70 / 3)
    expect(await readAll(js)).toBe(10_000)

    const native = join(root, 'native')
    expect(child(WRITE(native), false).implementations).toEqual({ crc32c: 'native', lz4: 'native' })
    const read = child(`
const db = new LsmLevel(${JSON.stringify(native)})
await db.open()
const keys = (await db.keys().all()).length
const sample = await db.get('k004321')
await db.close()
process.stdout.write(JSON.stringify({ keys, sample }))`, true)
    expect(read).toEqual({ keys: 10_000, sample: 'value 321 '.repeat(8) })
  }, 60_000)
})
