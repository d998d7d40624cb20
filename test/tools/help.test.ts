import { expect, test } from 'vitest'
import { levelring } from './levelring-cli.js'

// `levelring --help` is how an operator finds the tools: every subcommand must be listed, and each
// group's help must list its commands.

test('levelring --help lists every subcommand; each group lists its commands', async () => {
  const [top, sst, wal, manifest, db] = await Promise.all([
    levelring(['--help']),
    levelring(['sst', '--help']),
    levelring(['wal', '--help']),
    levelring(['manifest', '--help']),
    levelring(['db', '--help'])
  ])
  expect(top.code).toBe(0)
  const commands = (help: string): string[] => [...help.split('Commands:')[1].matchAll(/^ {2}(\S+)/gm)].map((m) => m[1])
  expect(commands(top.stdout)).toEqual(['start', 'config', 'sst', 'wal', 'manifest', 'db', 'status', 'members', 'ring', 'placement', 'repair', 'join', 'leave', 'remove', 'replace', 'certs', 'get', 'put', 'del', 'backup', 'export', 'import', 'help'])
  expect(commands(sst.stdout)).toEqual(['scan', 'check', 'verify', 'properties', 'layout', 'identify', 'help'])
  expect(commands(wal.stdout)).toEqual(['dump', 'help'])
  expect(commands(manifest.stdout)).toEqual(['dump', 'check', 'help'])
  expect(commands(db.stdout)).toEqual(['get', 'put', 'del', 'scan', 'count', 'lsm', 'compact', 'approxsize', 'check', 'repair', 'import-leveldb', 'help'])
})

test('a usage mistake names the problem and exits 2', async () => {
  const r = await levelring(['sst', 'scan', 'x.sst', '--limit', 'ten'])
  expect(r.code).toBe(2)
  expect(r.stderr).toMatch(/option '--limit <n>' argument 'ten' is invalid\. not a positive integer/)
})
