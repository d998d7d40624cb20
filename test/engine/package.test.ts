// lsm-level as a user installs it: `npm pack` of engine/, installed into an empty project beside
// level-read-stream, runs a classic-level program (json encodings, sublevels, streams, snapshot reads) with the
// same results as in this repository; installed without optional dependencies (no native addons), it falls
// back to the JavaScript CRC-32C and LZ4 and reads the same data. Also checks what the tarball holds.
import { describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LsmLevel } from 'lsm-level'
// @ts-expect-error a plain JavaScript fixture, shared with the drop-in test
import { run } from './fixtures/classic-user-program.mjs'
import { tempRoot } from '../support/temp-dir.js'

const here = dirname(fileURLToPath(import.meta.url))
const engineDir = join(here, '../../engine')
const fixture = join(here, 'fixtures/classic-user-program.mjs')
const root = tempRoot('lsm-package')

/** npm, quietly, from the local cache where it can (the tarball's dependencies are the repository's own). */
function npm (args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** An empty project with the tarball and level-read-stream installed, and the user's program in it. */
function project (name: string, tarball: string, extra: string[] = []): string {
  const dir = join(root, name)
  execFileSync('mkdir', ['-p', dir])
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }))
  npm(['install', tarball, 'level-read-stream@^2.0.0', ...extra], dir)
  copyFileSync(fixture, join(dir, 'program.mjs'))
  writeFileSync(join(dir, 'main.mjs'), [
    "import { LsmLevel } from 'lsm-level'",
    "import { run } from './program.mjs'",
    "const transcript = await run(LsmLevel, process.argv[2])",
    "const db = new LsmLevel(process.argv[2])",
    'await db.open()',
    "const implementations = db.getProperty('lsm.implementations')",
    'await db.close()',
    'process.stdout.write(JSON.stringify({ transcript, implementations }))'
  ].join('\n'))
  return dir
}

function runProgram (dir: string, env: NodeJS.ProcessEnv = process.env): { transcript: unknown, implementations: { crc32c: string, lz4: string } } {
  return JSON.parse(execFileSync(process.execPath, ['main.mjs', join(dir, 'db')], { cwd: dir, encoding: 'utf8', env }))
}

describe('the lsm-level package', () => {
  it('packs LICENSE, README, FORMAT and the compiled code with self-contained maps; no build info, no sources, no links out of the package', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', engineDir, '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], { cwd: root, encoding: 'utf8' })) as Array<{ files: Array<{ path: string }> }>
    const files = packed.files.map((f) => f.path)
    for (const f of ['LICENSE', 'README.md', 'FORMAT.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/tools-api.js', 'dist/worker/worker.js']) expect(files).toContain(f)
    expect(files.filter((f) => !/^(LICENSE|README\.md|FORMAT\.md|package\.json|dist\/.+\.(js|d\.ts|js\.map))$/.test(f))).toEqual([])
    expect(files.some((f) => f.includes('tsbuildinfo'))).toBe(false)
    const maps = files.filter((f) => f.endsWith('.js.map'))
    expect(maps.length).toBeGreaterThan(20)
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(engineDir, m), 'utf8')) as { sources: string[], sourcesContent?: string[] }
      expect(map.sourcesContent?.length, m).toBe(map.sources.length)
    }
    const manifest = JSON.parse(readFileSync(join(engineDir, 'package.json'), 'utf8'))
    expect(manifest.license).toBe('MIT')
    // The project has no public host yet: the manifest names no repository, bug tracker or home page rather
    // than a guessed address (npm accepts their absence and warns about nothing, checked below).
    for (const field of ['repository', 'bugs', 'homepage']) expect(manifest[field], field).toBeUndefined()
    // What the package's documents link to is in the tarball or an https address: no link into the
    // repository around it, which the installed package (and its page on a registry) does not have.
    for (const doc of ['README.md', 'FORMAT.md']) {
      const text = readFileSync(join(engineDir, doc), 'utf8')
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target.startsWith('https://') || target.startsWith('#')) continue
        expect(files, `${doc} links to ${target}`).toContain(normalize(target.split('#')[0]))
      }
    }
    const warnings = spawnSync('npm', ['pack', engineDir, '--dry-run', '--ignore-scripts', '--loglevel=warn'], { cwd: root, encoding: 'utf8' })
    expect(warnings.status).toBe(0)
    expect(warnings.stderr.split('\n').filter((line) => /warn/i.test(line))).toEqual([])
    expect(Object.keys(manifest.optionalDependencies).sort()).toEqual(['@node-rs/crc32', 'lz4-napi'])
    expect(Object.keys(manifest.devDependencies).sort()).toEqual(['@types/node', 'typescript'])
    // The build stands alone: its tsconfig extends nothing outside engine/.
    expect(JSON.parse(readFileSync(join(engineDir, 'tsconfig.json'), 'utf8')).extends).toBeUndefined()
  })

  it('installs in an empty project and runs a classic-level program there, natively and without its optional addons', async () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', engineDir, '--json', '--ignore-scripts', '--loglevel=error', '--pack-destination', root], { cwd: root, encoding: 'utf8' })) as Array<{ filename: string }>
    const tarball = join(root, packed.filename)
    // As JSON, the way the installed program reports it (undefined becomes null).
    const expected = JSON.parse(JSON.stringify(await run(LsmLevel, join(root, 'reference-db'))))

    const full = project('user', tarball)
    const native = runProgram(full)
    expect(native.transcript).toEqual(expected)
    expect(native.implementations).toEqual({ crc32c: 'native', lz4: 'native' })

    // Without optional dependencies the addons are not there at all: the JavaScript implementations take over.
    const bare = project('user-no-addons', tarball, ['--omit=optional'])
    expect(existsSync(join(bare, 'node_modules/@node-rs/crc32'))).toBe(false)
    expect(existsSync(join(bare, 'node_modules/lz4-napi'))).toBe(false)
    const js = runProgram(bare)
    expect(js.transcript).toEqual(expected)
    expect(js.implementations).toEqual({ crc32c: 'javascript', lz4: 'javascript' })

    // Tables written by one install read in the other: both write and read the same format.
    writeFileSync(join(bare, 'read.mjs'), [
      "import { LsmLevel } from 'lsm-level'",
      "const db = new LsmLevel(process.argv[2], { valueEncoding: 'json' })",
      'await db.open()',
      "process.stdout.write(JSON.stringify([await db.get('n00001'), (await db.keys({ gte: 'n', lt: 'o' }).all()).length]))",
      'await db.close()'
    ].join('\n'))
    const read = JSON.parse(execFileSync(process.execPath, ['read.mjs', join(full, 'db')], { cwd: bare, encoding: 'utf8' }))
    expect(read[0]).toEqual({ i: 1, text: 'entry number 1 '.repeat(4) })
    expect(read[1]).toBe(2000)
  }, 300_000)
})
