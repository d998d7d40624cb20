/**
 * A newcomer's check of docs/operations.md: every command of its fenced blocks marked `sh runnable` runs as
 * written, in document order, in one fresh directory (the blocks build their own database first). A command
 * is a line starting with `$ `; the lines after it are its documented output, and `(exit N)` among them is the
 * exit code it must end with (0 otherwise). `npx levelring` is run as the built bin/levelring.js, which is what
 * npx resolves to in a clone.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { tempRoot } from '../support/temp-dir.js'

const DOC = new URL('../../docs/operations.md', import.meta.url)
const BIN = new URL('../../bin/levelring.js', import.meta.url).pathname

/** One documented command and the exit code its documented output shows. */
interface DocumentedCommand { readonly line: string, readonly exitCode: number }

/** The commands of every `sh runnable` block of `markdown`, in order. */
function runnableCommands (markdown: string): DocumentedCommand[] {
  const commands: DocumentedCommand[] = []
  for (const block of markdown.matchAll(/^```sh runnable\n([\s\S]*?)^```$/gm)) {
    let current: { line: string, exitCode: number } | undefined
    for (const text of block[1]!.split('\n')) {
      if (text.startsWith('$ ')) {
        current = { line: text.slice(2), exitCode: 0 }
        commands.push(current)
      } else {
        const exit = /^\(exit (\d+)\)$/.exec(text)
        if (exit !== null && current !== undefined) current.exitCode = Number(exit[1])
      }
    }
  }
  return commands
}

/** Runs one shell line in `cwd`; resolves with its exit code and combined output. */
async function sh (line: string, cwd: string): Promise<{ code: number, output: string }> {
  const command = line.replace(/^npx levelring(?= |$)/, `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`)
  return await new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', `${command} 2>&1`], { cwd, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err !== null && typeof err.code !== 'number') { reject(err); return }
      resolve({ code: err === null ? 0 : err.code as number, output: stdout })
    })
  })
}

const commands = runnableCommands(readFileSync(DOC, 'utf8'))
const cwd = tempRoot('levelring-docs')

test('docs/operations.md has runnable blocks of levelring commands', () => {
  expect(commands.filter((c) => c.line.startsWith('npx levelring ')).length).toBeGreaterThanOrEqual(20)
})

// In order: later commands read what earlier ones wrote.
for (const [i, c] of commands.entries()) {
  test(`${String(i + 1).padStart(2, '0')}: $ ${c.line}`, async () => {
    const { code, output } = await sh(c.line, cwd)
    expect(code, output).toBe(c.exitCode)
  })
}
