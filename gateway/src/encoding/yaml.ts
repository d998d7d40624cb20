import { createRequire } from 'node:module'

/**
 * Parse YAML, loading the parser on first use: it costs ~50 ms to load, and a node started without a
 * config file, from a build with the contract's JSON copy, never needs it.
 */
export function parseYaml (text: string): unknown {
  const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml')
  return parse(text)
}
