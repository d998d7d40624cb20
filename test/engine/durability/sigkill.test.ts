import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LsmLevel } from 'lsm-level'
import { eachLine } from '../../support/process.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-sigkill')
const writer = fileURLToPath(new URL('../fixtures/acked-writer.mjs', import.meta.url))

/** Start the writer, let it acknowledge at least `minAcks` writes, SIGKILL it; returns the acknowledged indexes. */
function runAndKill (dir: string, seed: number, minAcks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const acked: number[] = []
    let err = ''
    let killed = false
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`writer made no progress: ${err}`)) }, 60_000)
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    eachLine(child.stdout, (line) => {
      if (line.startsWith('ack ')) acked.push(Number(line.slice(4)))
    }, () => {
      if (!killed && acked.length >= minAcks) {
        killed = true
        child.kill('SIGKILL')
      }
    })
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      if (signal !== 'SIGKILL') reject(new Error(`writer exited ${code}: ${err}`))
      else resolve(acked)
    })
  })
}

describe('a write whose promise resolved survives SIGKILL', () => {
  it('every acknowledged write is present after kill and reopen, over several cycles', async () => {
    const dir = join(root, 'db')
    const seen = new Set<number>()
    for (let cycle = 0; cycle < 3; cycle++) {
      const acked = await runAndKill(dir, 1000 + cycle, 3000 + cycle * 2500)
      const db = new LsmLevel<string, string>(dir)
      await db.open()
      let missing = 0
      for (const i of acked) {
        const key = `k${String(i).padStart(8, '0')}`
        if ((await db.get(key)) !== `v${i}`) missing++
      }
      expect(missing).toBe(0)
      for (const i of acked) seen.add(i)
      await db.close()
    }
    expect(seen.size).toBeGreaterThan(3000)
  }, 180_000)
})
