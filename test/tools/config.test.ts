import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { withReference } from '../../gateway/src/node/config-reference.js'
import { tempRoot } from '../support/temp-dir.js'
import { expectOneLineFailure, levelring } from './levelring-cli.js'

const dir = tempRoot('levelring-config-cli')

test('docs/operations.md carries the configuration reference generated from the schema (levelring config reference --write)', async () => {
  const doc = await readFile(new URL('../../docs/operations.md', import.meta.url), 'utf8')
  expect(withReference(doc), 'run: npx levelring config reference --write docs/operations.md').toBe(doc)
})

test('levelring config check accepts a good file and refuses a typo naming the key (exit 1, one line)', async () => {
  const good = join(dir, 'good.yaml')
  await writeFile(good, 'nodeId: a\nlisten: 127.0.0.1:7101\nseeds: [127.0.0.1:7102]\nclusterSecretFile: /run/secret\n')
  const ok = await levelring(['config', 'check', good])
  expect(ok.stderr).toBe('')
  expect(ok.code).toBe(0)
  expect(ok.stdout).toMatch(/good\.yaml: ok \(node a, listen 127\.0\.0\.1:7101, data \.\/data\/a, n=3\)/)
  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, 'nodeId: a\nreplica: 3\n')
  expectOneLineFailure(await levelring(['config', 'check', bad]), /replica in .*bad\.yaml: unknown setting; did you mean replicas\?/)
  await writeFile(bad, 'seeds: [127.0.0.1:7102]\n')
  expectOneLineFailure(await levelring(['config', 'check', bad]), /clusterSecretFile/)
})
