import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const runner = fileURLToPath(new URL('./compliance/run-suite.mjs', import.meta.url))

/** Run the tape suite in a child process (against engine/dist) and parse its TAP summary. */
function runSuite (config: string): Promise<{ code: number | null, pass: number, fail: number, failures: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runner, config], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const pass = Number(/^# pass\s+(\d+)/m.exec(out)?.[1] ?? 0)
      const fail = Number(/^# fail\s+(\d+)/m.exec(out)?.[1] ?? 0)
      const lines = out.split('\n')
      const failures: string[] = []
      lines.forEach((l, i) => { if (l.startsWith('not ok')) failures.push(lines.slice(i, i + 8).join('\n')) })
      if (code !== 0 && failures.length === 0) failures.push(err.slice(-4000) || out.slice(-4000))
      resolve({ code, pass, fail, failures })
    })
  })
}

describe('abstract-level compliance suite (root database and sublevel)', () => {
  for (const config of ['default', 'tiny']) {
    it(`passes every test its manifest enables (${config} tuning)`, async () => {
      const r = await runSuite(config)
      expect(r.failures.slice(0, 5)).toEqual([])
      expect(r.fail).toBe(0)
      expect(r.pass).toBeGreaterThan(1000)
      expect(r.code).toBe(0)
    }, 300_000)
  }
})
