/**
 * docs/architecture.md's folder -> concept table matches the tree: every source folder (and every file at the
 * top of engine/src and tools/src) is named in it, and everything it names exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'

const REPO = new URL('../../', import.meta.url).pathname
const TABLE_HEAD = '| folder | concept |'

/** The rows of the table: its first cell (a path) and the paths the whole row names in backticks. */
function tableRows (markdown: string): Array<{ folder: string, named: string[] }> {
  const lines = markdown.split('\n')
  const start = lines.indexOf(TABLE_HEAD)
  expect(start, `docs/architecture.md has no table headed ${TABLE_HEAD}`).toBeGreaterThan(-1)
  const rows: Array<{ folder: string, named: string[] }> = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    const [folder = ''] = /`([^`]+)`/.exec(line)?.slice(1) ?? []
    rows.push({ folder, named: [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) })
  }
  return rows
}

function entries (dir: string, kind: 'dirs' | 'ts-files'): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true })
    .filter((e) => kind === 'dirs' ? e.isDirectory() : e.isFile() && e.name.endsWith('.ts'))
    .map((e) => e.name)
}

test('the architecture table names every source folder and top-level file, and only what exists', () => {
  const rows = tableRows(readFileSync(join(REPO, 'docs', 'architecture.md'), 'utf8'))
  const folders = new Set(rows.map((r) => r.folder))
  for (const root of ['engine/src', 'gateway/src', 'tools/src']) {
    for (const dir of entries(root, 'dirs')) expect(folders, `${root}/${dir}/ is missing from the table`).toContain(`${root}/${dir}/`)
  }
  for (const root of ['engine/src', 'tools/src']) {
    const row = rows.find((r) => r.folder === `${root}/`)
    expect(row, `no row for ${root}/`).toBeDefined()
    for (const file of entries(root, 'ts-files')) expect(row!.named, `${root}/${file} is not named in its row`).toContain(file)
  }
  expect(entries('gateway/src', 'ts-files'), 'gateway/src keeps no files at its top level').toEqual([])
  for (const { folder } of rows) expect(existsSync(join(REPO, folder)), `${folder} is in the table but not in the tree`).toBe(true)
})
