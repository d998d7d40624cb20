import type { CommonFlags } from '../../cli-kit/common-options.js'
import { bytesForJson, bytesForTerminal, parseBytes } from '../../cli-kit/byte-encoding.js'
import { humanSize } from '../../cli-kit/human-size.js'
import type { Output } from '../../cli-kit/output.js'
import { withDatabase } from './database-directory.js'

/** `db approxsize DIR FROM TO`: the approximate bytes on disk that keys in [FROM, TO) take (the engine's estimate from table indexes). */
export async function dbApproxSize (dir: string, fromText: string, toText: string, flags: CommonFlags, out: Output): Promise<void> {
  const from = parseBytes(fromText, flags.encoding, 'FROM')
  const to = parseBytes(toText, flags.encoding, 'TO')
  const bytes = await withDatabase(dir, async (db) => await db.approximateSize(from, to), { readOnly: true })
  if (flags.json === true) await out.json({ dir, from: bytesForJson(from, flags.encoding), to: bytesForJson(to, flags.encoding), bytes })
  else await out.lines([`${bytes} bytes (${humanSize(bytes)}) for keys in [${bytesForTerminal(from, flags.encoding)}, ${bytesForTerminal(to, flags.encoding)})`])
}
