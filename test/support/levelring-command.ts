// The `levelring` command as the tests run it: the built bin/levelring.js (npm test builds first) as a child process.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/levelring.js', import.meta.url))

/** What a finished `levelring` process left behind. */
export interface Run { code: number, stdout: string, stderr: string }

/** Runs `levelring ...args` to completion (killed after `timeoutMs`, 30 s by default) and returns its exit code and output. */
export async function levelring (args: readonly string[], options: { env?: NodeJS.ProcessEnv, cwd?: string, timeoutMs?: number } = {}): Promise<Run> {
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd, timeout: options.timeoutMs ?? 30_000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') { reject(err); return }
        resolve({ code: err === null ? 0 : err.code as number, stdout, stderr })
      })
  })
}
