import type { Command } from 'commander'
import { join } from 'node:path'
import { parseFileName, RealFileSystem, tableFileName } from 'lsm-level/tools'
import { type CommonFlags, withEncoding, withJson } from '../cli-kit/common-options.js'
import { counted } from '../cli-kit/counted.js'
import { CliFailure } from '../cli-kit/failure.js'
import { JsonArrayDocument, Output } from '../cli-kit/output.js'
import { manifestHeaderProblems, replayManifest, type ManifestReplay } from './manifest/manifest-replay.js'
import { editJson, editLines, versionJson, versionLines } from './manifest/version-view.js'

/** Register `levelring manifest dump|check`: the version edits of a database and the files they name. */
export function registerManifest (program: Command): void {
  const manifest = program.command('manifest').description('inspect the MANIFEST: version edits and the live files per level')
  withJson(withEncoding(manifest.command('dump')
    .description('print every version edit, then the live files per level at the end')
    .argument('<path>', 'a database directory (its CURRENT names the MANIFEST) or a MANIFEST file')))
    .action(async (path: string, flags: CommonFlags) => { await manifestDump(path, flags, new Output()) })
  withJson(withEncoding(manifest.command('check')
    .description('check that every table the MANIFEST names exists with the size it records')
    .argument('<dir>', 'a database directory')))
    .action(async (dir: string, flags: CommonFlags) => { await manifestCheck(dir, flags, new Output()) })
}

function headerJson (r: ManifestReplay): Record<string, unknown> {
  return { logNumber: r.logNumber, nextFileNumber: r.nextFileNumber, lastSequence: r.lastSequence, comparator: r.comparator, formatVersion: r.formatVersion }
}

function tornTailLine (r: ManifestReplay): string[] {
  return r.tornTail.map((d) => `torn last edit at ${d.offset} (${d.bytes} bytes, ${d.reason}): never acknowledged, ignored as recovery does`)
}

async function manifestDump (path: string, flags: CommonFlags, out: Output): Promise<void> {
  const r = replayManifest(path)
  if (flags.json === true) {
    const doc = await JsonArrayDocument.open(out, { file: r.file }, 'edits')
    for (const { offset, edit } of r.edits) await doc.item(editJson(offset, edit, flags.encoding))
    await doc.close({ ...headerJson(r), ...versionJson(r.version, flags.encoding), tornTail: r.tornTail })
    return
  }
  await out.lines([`${r.file}: ${counted(r.edits.length, 'edit')}`])
  for (const { offset, edit } of r.edits) await out.lines(editLines(offset, edit, flags.encoding))
  await out.lines([
    ...tornTailLine(r),
    '',
    `at the end: log number ${String(r.logNumber)}, next file number ${String(r.nextFileNumber)}, last sequence ${String(r.lastSequence)}`,
    ...versionLines(r.version, flags.encoding)
  ])
}

/** One way a MANIFEST and its directory disagree. */
interface FileProblem { file: string, level: number, problem: string }

async function manifestCheck (dir: string, flags: CommonFlags, out: Output): Promise<void> {
  const fs = new RealFileSystem()
  if (!fs.stat(dir).isDirectory) throw new CliFailure(`${dir} is not a directory; manifest check reads a database directory`, { code: 'LEVELRING_BAD_ARGUMENT' })
  const r = replayManifest(dir)
  const problems: FileProblem[] = []
  const live = new Set<number>()
  let tables = 0
  r.version.levels.forEach((files, level) => {
    for (const f of files) {
      tables++
      live.add(f.number)
      const name = tableFileName(f.number)
      const path = join(dir, name)
      if (!fs.exists(path)) problems.push({ file: name, level, problem: 'missing' })
      else {
        const size = fs.stat(path).size
        if (size !== f.size) problems.push({ file: name, level, problem: `${size} bytes on disk, the MANIFEST records ${f.size}` })
      }
    }
  })
  const header = manifestHeaderProblems(r)
  // Tables no version names are leftovers of a compaction the engine deletes at its next open: not damage.
  const obsolete = fs.readdir(dir).filter((n) => { const p = parseFileName(n); return p?.kind === 'table' && !live.has(p.number) }).sort()
  const ok = problems.length === 0 && header.length === 0
  if (flags.json === true) {
    await out.json({ file: r.file, ok, edits: r.edits.length, tables, header: header, problems, obsoleteTables: obsolete, tornTail: r.tornTail })
  } else {
    await out.lines([
      `${r.file}: ${counted(r.edits.length, 'edit')}, ${counted(tables, 'live table')}` +
        (ok ? ', every one present with the size the MANIFEST records' : ''),
      ...header.map((h) => `  header: ${h}`),
      ...problems.map((p) => `  L${p.level} ${p.file}: ${p.problem}`),
      ...tornTailLine(r),
      ...(obsolete.length === 0 ? [] : [`  ${counted(obsolete.length, 'table')} not in the MANIFEST (obsolete; the engine deletes them at its next open): ${obsolete.join(' ')}`])
    ])
  }
  if (!ok) {
    const first = header.length > 0 ? `its header has ${header[0]}` : `L${problems[0].level} ${problems[0].file} is ${problems[0].problem}`
    throw new CliFailure(`${r.file}: ${first}${header.length + problems.length > 1 ? ` (and ${counted(header.length + problems.length - 1, 'more problem')})` : ''}; levelring db repair rebuilds the MANIFEST from the tables present`, { code: 'LEVEL_CORRUPTION' })
  }
}
