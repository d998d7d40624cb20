import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'

const root = new URL('../../../', import.meta.url).pathname

test('openapi/generated/levelring.d.ts is what `npm run gen:api` makes from openapi/levelring.yaml', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'levelring-gen-'))
  try {
    const fresh = join(dir, 'levelring.d.ts')
    await promisify(execFile)(process.execPath,
      [join(root, 'node_modules/openapi-typescript/bin/cli.js'), join(root, 'openapi/levelring.yaml'), '-o', fresh],
      { cwd: root })
    const committed = await readFile(join(root, 'openapi/generated/levelring.d.ts'), 'utf8')
    const regenerated = await readFile(fresh, 'utf8')
    expect(regenerated.length).toBeGreaterThan(1000)
    expect(committed, 'generated types are stale: run `npm run gen:api` and commit the result').toBe(regenerated)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
