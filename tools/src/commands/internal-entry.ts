/**
 * How the tools show one stored entry (an SSTable entry or one operation of a write batch): the user
 * key, the sequence number and kind of its internal key, and the value, which for a range deletion is the
 * encoded end of the range.
 */
import { decodeTombstoneEnd, KIND_DELETE, KIND_RANGE_DELETE, KIND_VALUE, kindOf, seqOf, userKeyOf } from 'lsm-level/tools'
import { type ByteEncoding, bytesForJson, bytesForTerminal } from '../cli-kit/byte-encoding.js'

/** The name of an entry kind as printed (and in JSON). */
export function kindName (kind: number): string {
  switch (kind) {
    case KIND_VALUE: return 'put'
    case KIND_DELETE: return 'delete'
    case KIND_RANGE_DELETE: return 'range-delete'
    default: return `kind-${kind}`
  }
}

/** One entry as the tools see it. `value` is absent for a deletion. */
export interface InternalEntry { key: Buffer, seq: number, kind: number, value?: Buffer }

/** What to show of an entry. */
export interface EntryView { encoding: ByteEncoding, internal: boolean, values: boolean }

/** One line: `key => value`, `key (deleted)` or `[start, end) (range deleted)`; with `internal`, ` @seq kind` after the key. */
export function entryLine (e: InternalEntry, view: EntryView): string {
  const key = bytesForTerminal(e.key, view.encoding)
  const at = view.internal ? ` @${e.seq} ${kindName(e.kind)}` : ''
  if (e.kind === KIND_RANGE_DELETE) {
    const end = e.value === undefined ? undefined : decodeTombstoneEnd(e.value)
    const upper = end === undefined ? '(malformed end)' : end === null ? '(last key)' : bytesForTerminal(end, view.encoding)
    return `[${key}, ${upper})${at} (range deleted)`
  }
  if (e.kind !== KIND_VALUE) return `${key}${at} (deleted)`
  return view.values && e.value !== undefined ? `${key}${at} => ${bytesForTerminal(e.value, view.encoding)}` : `${key}${at}`
}

/** The entry as a JSON object: key, seq, kind, valueSize, and (when shown) value or the range's end. */
export function entryJson (e: InternalEntry, view: EntryView): Record<string, unknown> {
  const out: Record<string, unknown> = { key: bytesForJson(e.key, view.encoding), seq: e.seq, kind: kindName(e.kind) }
  if (e.kind === KIND_RANGE_DELETE) {
    const end = e.value === undefined ? undefined : decodeTombstoneEnd(e.value)
    out.end = end === undefined || end === null ? null : bytesForJson(end, view.encoding)
  } else if (e.value !== undefined && e.kind === KIND_VALUE) {
    out.valueSize = e.value.length
    if (view.values) out.value = bytesForJson(e.value, view.encoding)
  }
  return out
}

/** An internal key (user key + sequence + kind) as text: `key @seq kind`; `(none)` for an empty bound. */
export function internalKeyText (ik: Buffer, encoding: ByteEncoding): string {
  return ik.length === 0 ? '(none)' : `${bytesForTerminal(userKeyOf(ik), encoding)} @${seqOf(ik)} ${kindName(kindOf(ik))}`
}

/** An internal key as JSON: `{ key, seq, kind }`, or null for an empty bound. */
export function internalKeyJson (ik: Buffer, encoding: ByteEncoding): Record<string, unknown> | null {
  return ik.length === 0 ? null : { key: bytesForJson(userKeyOf(ik), encoding), seq: seqOf(ik), kind: kindName(kindOf(ik)) }
}
