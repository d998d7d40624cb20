import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { TestCluster } from '../cluster/helpers/test-cluster.js'
import { tempRoot } from '../support/temp-dir.js'
import { levelring } from './levelring-cli.js'

// `levelring get|put|del KEY --node URL` against a real three-node cluster with client tokens on.

const TOKEN = 'kv-client-test-token'
const dir = tempRoot('levelring-kv-client')
const tokenFile = join(dir, 'token')
let cluster: TestCluster
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  await writeFile(tokenFile, `${TOKEN}\n`)
  cluster = await TestCluster.start({ size: 3, replicas: 3, bearerToken: TOKEN })
  env = { LEVELRING_NODE: cluster.nodes[0]!.url, LEVELRING_TOKEN: TOKEN, LEVELRING_TOKEN_FILE: '' }
}, 60_000)
afterAll(async () => { await cluster?.close() })

test('put then get through different nodes; put replaces (it writes with the context it read), del deletes; absent is exit 3', async () => {
  const [a, b, c] = cluster.nodes.map((n) => n.url)
  expect(await levelring(['put', 'colour', 'blue', '--node', a!, '--token-file', tokenFile, '--w', '3'], { env: { LEVELRING_TOKEN: '' } })).toMatchObject({ code: 0, stderr: '' })
  expect(await levelring(['get', 'colour', '--node', b!], { env })).toMatchObject({ code: 0, stdout: 'blue' })
  expect((await levelring(['put', 'colour', 'green', '--node', c!, '--w', '3'], { env })).code).toBe(0)
  const read = await levelring(['get', 'colour', '--node', a!, '--json', '--r', '3'], { env })
  const json = JSON.parse(read.stdout) as { found: boolean, context: string, siblings: Array<{ value: string }> }
  expect(json.siblings.map((s) => Buffer.from(s.value, 'base64').toString())).toEqual(['green'])
  expect(json.context).toMatch(/^[A-Za-z0-9_-]+/)

  expect((await levelring(['del', 'colour', '--node', b!, '--w', '3'], { env })).code).toBe(0)
  const gone = await levelring(['get', 'colour', '--node', c!], { env })
  expect(gone.code).toBe(3)
  expect(gone.stderr).toMatch(/^levelring: LEVELRING_NOT_FOUND: key "colour" not found on http:\/\/127\.0\.0\.1:\d+\n$/)
  expect((await levelring(['del', 'never-written'], { env })).code).toBe(3)
  // A value from a file, a key that needs URL-encoding, binary bytes read back exactly.
  const bytes = Buffer.from([0, 1, 2, 255, 10, 13])
  await writeFile(join(dir, 'value.bin'), bytes)
  expect((await levelring(['put', 'a/b c', '--file', join(dir, 'value.bin'), '--content-type', 'application/x-test'], { env })).code).toBe(0)
  const binary = JSON.parse((await levelring(['get', 'a/b c', '--json'], { env })).stdout) as { siblings: Array<{ value: string, contentType: string }> }
  expect(Buffer.from(binary.siblings[0]!.value, 'base64')).toEqual(bytes)
  expect(binary.siblings[0]!.contentType).toBe('application/x-test')
})

test('blind writes make siblings; get prints every one; a put resolves them', async () => {
  const [a, b] = cluster.nodes.map((n) => n.url)
  expect((await levelring(['put', 'race', 'red', '--blind', '--node', a!, '--w', '3'], { env })).code).toBe(0)
  expect((await levelring(['put', 'race', 'yellow', '--blind', '--node', b!, '--w', '3'], { env })).code).toBe(0)
  const both = await levelring(['get', 'race', '--r', '3'], { env })
  expect(both.code).toBe(0)
  expect(both.stdout).toMatch(/^2 siblings \(concurrent writes\)/)
  expect(both.stdout).toMatch(/^red$/m)
  expect(both.stdout).toMatch(/^yellow$/m)
  expect((await levelring(['put', 'race', 'orange', '--w', '3'], { env })).code).toBe(0)
  expect(await levelring(['get', 'race', '--r', '3'], { env })).toMatchObject({ code: 0, stdout: 'orange' })
})

test('exit codes: usage mistakes are 2 (a token on the command line among them), node failures 1, --version 0', async () => {
  const onCommandLine = await levelring(['get', 'k', '--token', TOKEN], { env })
  expect(onCommandLine.code).toBe(2)
  expect(onCommandLine.stderr).toMatch(/--token is not accepted: a token on the command line is visible/)
  expect((await levelring(['get'], { env })).code).toBe(2)
  expect((await levelring(['put', 'k', 'v', '--context', 'x', '--blind'], { env })).code).toBe(2)
  const unauthorized = await levelring(['get', 'k'], { env: { ...env, LEVELRING_TOKEN: 'wrong' } })
  expect(unauthorized.code).toBe(1)
  expect(unauthorized.stderr).toMatch(/401 .*--token-file FILE or set LEVELRING_TOKEN/)
  const version = await levelring(['--version'])
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` })
})
