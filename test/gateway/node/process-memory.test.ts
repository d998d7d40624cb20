import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, test } from 'vitest'
import { loadConfig } from '../../../gateway/src/node/config.js'
import { LAUNCH_ENV, LAUNCH_NODE_OPTIONS, missingLaunchSettings, withLaunchSettings } from '../../../gateway/src/node/process-memory.js'
import { waitForExit, waitUntil } from '../../support/process.js'
import { tempRoot } from '../../support/temp-dir.js'

const BIN = fileURLToPath(new URL('../../../bin/levelring.js', import.meta.url))
const dir = tempRoot('levelring-process-memory')
const children: ChildProcess[] = []
afterAll(() => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') })

/** This process's environment without any of the launch settings. */
function plainEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  for (const name of Object.keys(LAUNCH_ENV)) delete env[name]
  return env
}

test('a launcher\'s environment gets the settings, and keeps the ones its caller chose', () => {
  const added = withLaunchSettings({ PATH: '/bin' })
  expect(added).toEqual({ PATH: '/bin', NODE_OPTIONS: LAUNCH_NODE_OPTIONS.join(' '), ...LAUNCH_ENV })
  expect(missingLaunchSettings([], added)).toEqual([])
  expect(withLaunchSettings({ NODE_OPTIONS: '--enable-source-maps' }).NODE_OPTIONS).toBe(['--enable-source-maps', ...LAUNCH_NODE_OPTIONS].join(' '))
  const chosen = { NODE_OPTIONS: '--max-semi-space-size=32', MALLOC_ARENA_MAX: '8' }
  expect(withLaunchSettings(chosen)).toEqual(chosen)
  expect(missingLaunchSettings([], chosen)).toEqual([])
})

test('the settings a process lacks are named, whether passed as node arguments or in NODE_OPTIONS', () => {
  expect(missingLaunchSettings([], {})).toEqual([...LAUNCH_NODE_OPTIONS, ...Object.entries(LAUNCH_ENV).map(([n, v]) => `${n}=${v}`)])
  expect(missingLaunchSettings([...LAUNCH_NODE_OPTIONS], { ...LAUNCH_ENV })).toEqual([])
  expect(missingLaunchSettings([], { NODE_OPTIONS: LAUNCH_NODE_OPTIONS.join(' ') })).toEqual(Object.entries(LAUNCH_ENV).map(([n, v]) => `${n}=${v}`))
})

test('heapGrowingPercent: 100 by default, 0 for V8\'s own, refused out of 0..1000', () => {
  expect(loadConfig({}, {}).heapGrowingPercent).toBe(100)
  expect(loadConfig({}, { LEVELRING_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0)
  expect(loadConfig({ heapGrowingPercent: '30' }, {}).heapGrowingPercent).toBe(30)
  expect(() => loadConfig({ heapGrowingPercent: '-1' }, {})).toThrow(/heapGrowingPercent/)
  expect(() => loadConfig({}, { LEVELRING_HEAP_GROWING_PERCENT: '1001' })).toThrow(/heapGrowingPercent/)
})

/** `levelring start` with `env` and `args`; its log lines, once it listens. */
async function start (env: NodeJS.ProcessEnv, args: readonly string[]): Promise<{ child: ChildProcess, lines: Array<Record<string, any>> }> {
  const child = spawn(process.execPath, [BIN, 'start', '--listen', '127.0.0.1:0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const lines: Array<Record<string, any>> = []
  createInterface({ input: child.stdout! }).on('line', (line) => { lines.push(JSON.parse(line) as Record<string, any>) })
  await waitUntil('the node listens', () => lines.some((l) => /listening/.test(String(l.msg))), 60_000)
  return { child, lines }
}

test('levelring start warns, naming them, when its launcher did not pass the memory settings; with them (and any heapGrowingPercent) it does not', async () => {
  const [plain, launched] = await Promise.all([
    start(plainEnv(), ['--node-id', 'plain', '--data', join(dir, 'plain')]),
    start(withLaunchSettings(plainEnv()), ['--node-id', 'launched', '--data', join(dir, 'launched'), '--heap-growing-percent', '0'])
  ])
  await waitUntil('the warning', () => plain.lines.some((l) => /started without the memory settings/.test(String(l.msg))), 10_000)
  const warning = plain.lines.find((l) => /started without the memory settings/.test(String(l.msg)))!
  expect(warning.level).toBe(40)
  expect(warning.missing).toEqual(missingLaunchSettings([], plainEnv()))

  // The process really has them: its environment (Linux) and its node options.
  if (process.platform === 'linux') {
    const environ = readFileSync(`/proc/${launched.child.pid!}/environ`, 'utf8').split('\0')
    for (const [name, value] of Object.entries(LAUNCH_ENV)) expect(environ).toContain(`${name}=${value}`)
  }
  // The warning comes right after the listening line when it comes: the other node's has come by now.
  expect(launched.lines.filter((l) => /started without the memory settings/.test(String(l.msg)))).toEqual([])
  for (const child of [plain.child, launched.child]) {
    child.kill('SIGTERM')
    expect((await waitForExit(child, 30_000)).code).toBe(0)
  }
}, 150_000)
