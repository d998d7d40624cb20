/**
 * The format of a bearer token file (--auth-token-file, --admin-token-file), shared by the node and the
 * `levelring` CLI: one token per line; surrounding whitespace, blank lines and lines starting with # are
 * ignored. No dependencies, so the CLI can read one without loading the gateway.
 */

/** The tokens in the text of a token file, in order; empty when it holds none. */
export function parseTokenFile (text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
}
