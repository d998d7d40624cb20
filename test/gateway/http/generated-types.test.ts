import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'
import { withTempDir } from '../../support/temp-dir.js'

const root = new URL('../../../', import.meta.url).pathname

test('openapi/generated/levelring.d.ts is what `npm run gen:api` makes from openapi/levelring.yaml', async () => {
  await withTempDir('levelring-gen', async (dir) => {
    const fresh = join(dir, 'levelring.d.ts')
    await promisify(execFile)(process.execPath,
      [join(root, 'node_modules/openapi-typescript/bin/cli.js'), join(root, 'openapi/levelring.yaml'), '-o', fresh],
      { cwd: root })
    const committed = await readFile(join(root, 'openapi/generated/levelring.d.ts'), 'utf8')
    const regenerated = await readFile(fresh, 'utf8')
    expect(regenerated.length).toBeGreaterThan(1000)
    expect(committed, 'generated types are stale: run `npm run gen:api` and commit the result').toBe(regenerated)
  })
})
