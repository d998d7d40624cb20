import type { Command } from 'commander'
import { decodeBatch, readLog, RealFileSystem, type LogDrop, type LogReadSummary } from 'lsm-level/tools'
import { type CommonFlags, withEncoding, withJson, withProgress } from '../cli-kit/common-options.js'
import { counted } from '../cli-kit/counted.js'
import { CliFailure, describeFailure } from '../cli-kit/failure.js'
import { JsonArrayDocument, Output } from '../cli-kit/output.js'
import { Progress, progressWanted } from '../cli-kit/progress.js'
import { entryJson, entryLine, type EntryView } from './internal-entry.js'

/** Register `levelring wal dump FILE`: every record of a commit log and where it is damaged. */
export function registerWal (program: Command): void {
  const wal = program.command('wal').description('inspect commit logs (write-ahead logs, NNNNNN.log)')
  withProgress(withJson(withEncoding(wal.command('dump')
    .description('print every record (offset, sequence, kind, key, value size) and every damaged region')
    .argument('<file>', 'a .log file')
    .option('--values', 'print the values too, not only their sizes'))))
    .action(async (file: string, flags: WalDumpFlags) => { await walDump(file, flags, new Output()) })
}

interface WalDumpFlags extends CommonFlags { values?: boolean }

/** A damaged region: what the reader dropped, and whether recovery would accept it as a torn tail. */
interface Damage extends LogDrop { tornTail: boolean }

/**
 * Reads the log in repair mode (damage is skipped and reported, reading goes on), so every intact record
 * and every damaged region is listed; then asks the engine's recovery reader whether it would accept the
 * log: a torn tail (damage with nothing intact after it) is dropped by recovery (exit 0), damage followed
 * by intact data, or a record that does not decode, is refused (exit 1, naming the offset).
 */
async function walDump (path: string, flags: WalDumpFlags, out: Output): Promise<void> {
  const fs = new RealFileSystem()
  if (fs.stat(path).isDirectory) throw new CliFailure(`${path} is a directory; wal dump reads one .log file`, { code: 'LEVELRING_BAD_ARGUMENT' })
  const view: EntryView = { encoding: flags.encoding, internal: true, values: flags.values === true }
  const file = fs.openReadable(path)
  const progress = Progress.start(progressWanted(flags, true), 'dump', file.size, 'bytes')
  const doc = flags.json === true ? await JsonArrayDocument.open(out, { file: path, size: file.size }, 'records') : null
  const drops: LogDrop[] = []
  const undecodable: Damage[] = []
  let ops = 0
  let position = 0
  let summary: LogReadSummary
  try {
    const records = readLog(file, { mode: 'skip-any-corrupted', fileName: path, onDrop: (d) => { drops.push(d) } })
    let shownDrops = 0
    for (;;) {
      const step = records.next()
      // Damage is printed where it was met, between the records around it.
      for (; doc === null && shownDrops < drops.length; shownDrops++) await out.write(damageLine(drops[shownDrops]) + '\n')
      if (step.done === true) { summary = step.value; break }
      const rec = step.value
      progress.advance(rec.offset - position)
      position = rec.offset
      let batch
      try {
        batch = decodeBatch(rec.data, path, rec.offset)
      } catch (err) {
        const d: Damage = { offset: rec.offset, bytes: rec.data.length, reason: `undecodable write batch: ${describeFailure(err)}`, tornTail: false }
        undecodable.push(d)
        if (doc === null) await out.write(damageLine(d) + '\n')
        continue
      }
      ops += batch.ops.length
      const entries = batch.ops.map((op, i) => ({ key: op.key, seq: batch.seq + i, kind: op.kind, value: op.value }))
      if (doc !== null) {
        await doc.item({ offset: rec.offset, bytes: rec.data.length, seq: batch.seq, count: batch.ops.length, ops: entries.map((e) => entryJson(e, view)) })
      } else {
        await out.write(`record at ${rec.offset}: batch seq ${batch.seq}, ${counted(batch.ops.length, 'op')}, ${rec.data.length} bytes\n`)
        for (const e of entries) await out.write(`  ${entryLine(e, view)}${e.value !== undefined && !view.values ? ` (${e.value.length} bytes)` : ''}\n`)
      }
      await progress.breathe()
    }
  } finally {
    progress.stop()
    file.close()
  }
  // Whether recovery accepts the log is the engine's call: its own reader in recovery mode decides.
  const refused = recoveryRefusal(fs, path)
  const damage: Damage[] = [
    ...drops.map((d) => ({ ...d, tornTail: refused === undefined || d.offset >= summary.validEnd })),
    ...undecodable
  ].sort((a, b) => a.offset - b.offset)
  const result = { recordCount: summary.records, opCount: ops, validEnd: summary.validEnd, damagedBytes: summary.droppedBytes, tornTail: damage.some((d) => d.tornTail), ok: refused === undefined && undecodable.length === 0 }
  if (doc !== null) await doc.close({ damage, ...result })
  else {
    const tail = damage.find((d) => d.tornTail)
    await out.write(`${path}: ${counted(summary.records, 'record')}, ${counted(ops, 'op')}; ` +
      (damage.length === 0 ? 'no damage' : `${counted(damage.length, 'damaged region')} (${summary.droppedBytes} bytes)`) +
      (tail === undefined ? '' : `; torn tail from offset ${tail.offset}, which recovery drops`) + '\n')
  }
  if (!result.ok) {
    const offset = refused?.offset ?? undecodable[0].offset
    const first = damage.find((d) => d.offset === offset)
    const more = damage.filter((d) => d.offset > offset).length
    throw new CliFailure(`${path}: damaged at offset ${offset} (${first?.reason ?? refused!.message}) with intact records after it` +
      `${more > 0 ? `, and ${counted(more, 'more damaged region')}` : ''}; the engine refuses to open with it: levelring db repair salvages the rest`)
  }
}

/**
 * Where recovery (the engine's reader in its default tolerate-corrupted-tail mode, and the batch decoder)
 * would refuse the log, or undefined when it would accept it, dropping at most a torn tail.
 */
function recoveryRefusal (fs: RealFileSystem, path: string): { offset: number, message: string } | undefined {
  const file = fs.openReadable(path)
  try {
    for (const rec of readLog(file, { mode: 'tolerate-corrupted-tail', fileName: path })) decodeBatch(rec.data, path, rec.offset)
    return undefined
  } catch (err) {
    const offset = (err as { offset?: unknown }).offset
    return { offset: typeof offset === 'number' ? offset : 0, message: describeFailure(err) }
  } finally {
    file.close()
  }
}

function damageLine (d: LogDrop): string {
  return `damage at ${d.offset}: ${d.bytes} bytes dropped: ${d.reason}`
}
