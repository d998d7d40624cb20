/** FNV-1a over bytes [off, off + len). */
export function hashBytes (b: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < len; i++) h = Math.imul(h ^ b[off + i], 0x01000193)
  return h >>> 0
}

/** The same hash over a latin1 string's characters (its bytes). */
export function hashString (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Whether a[ao, ao + al) holds exactly the latin1 string s. */
export function equalsString (a: Uint8Array, ao: number, al: number, s: string): boolean {
  if (al !== s.length) return false
  for (let i = 0; i < al; i++) if (a[ao + i] !== s.charCodeAt(i)) return false
  return true
}
