import { join } from 'node:path'
import { parseFileName } from '../version/file-meta.js'
import type { DbState } from './state.js'

/**
 * Delete files no version references: tables not live, commit logs older than the MANIFEST's log number,
 * old MANIFESTs. Runs after every edit is durable; a table an iterator still reads is in a live version.
 */
export function deleteObsoleteFiles (s: DbState): void {
  if (s.bgError !== null || s.closed || s.options.readOnly) return
  const live = s.versions.liveFiles()
  for (const n of s.pendingOutputs) live.add(n)
  let names: string[]
  try {
    names = s.fs.readdir(s.dir)
  } catch {
    return
  }
  for (const name of names) {
    const p = parseFileName(name)
    if (p === undefined) continue
    let keep = true
    switch (p.kind) {
      case 'table': keep = live.has(p.number) || s.pendingRanges.some(([lo, hi]) => p.number >= lo && p.number < hi); break
      case 'log': keep = p.number >= s.versions.logNumber || s.imms.some((i) => i.logNumber === p.number) || p.number === s.logNumber; break
      case 'manifest': keep = p.number >= s.versions.manifestNumber; break
      // A CURRENT being installed is written as <new MANIFEST number>.tmp.
      case 'temp': keep = s.pendingOutputs.has(p.number) || p.number >= s.versions.manifestNumber; break
      default: keep = true
    }
    if (!keep) {
      if (p.kind === 'table') s.tables.evict(p.number)
      const path = join(s.dir, name)
      if (s.fs.unlinkInBackground !== undefined) s.fs.unlinkInBackground(path)
      else { try { s.fs.unlink(path) } catch {} }
    }
  }
}
