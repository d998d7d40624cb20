import { describe, it, expect } from 'vitest'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-readonly')

function listing (dir: string): string {
  return readdirSync(dir).filter((n) => n !== 'LOCK').sort().map((n) => `${n}:${statSync(join(dir, n)).size}`).join(',')
}

describe('readOnly open', () => {
  it('reads tables and unflushed logs without changing a file, and refuses writes', async () => {
    const location = join(root, 'db')
    const db = new LsmLevel<string, string>(location, { writeBufferSize: 8 * 1024 })
    await db.open()
    for (let i = 0; i < 2000; i++) await db.put(`k${String(i).padStart(5, '0')}`, `v${i}`)
    await db.clear({ gte: 'k00100', lt: 'k00200' })
    await db.del('k00500')
    await db.close()
    const before = listing(location)

    const ro = new LsmLevel<string, string>(location, { readOnly: true })
    await ro.open()
    expect(await ro.get('k01999')).toBe('v1999')
    expect(await ro.get('k00150')).toBeUndefined()
    expect(await ro.get('k00500')).toBeUndefined()
    expect((await ro.keys().all()).length).toBe(2000 - 100 - 1)
    await expect(ro.put('x', 'y')).rejects.toMatchObject({ code: 'LEVEL_READONLY' })
    await ro.close()
    expect(listing(location)).toBe(before)

    await expect(new LsmLevel(join(root, 'missing'), { readOnly: true }).open()).rejects.toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' })
  })
})
