import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { checkConfigFile } from '../../../gateway/src/node/config.js'
import { configReference, withReference } from '../../../gateway/src/node/config-reference.js'
import { CliFailure } from '../cli-kit/failure.js'
import { Output } from '../cli-kit/output.js'

/**
 * Register `levelring config check FILE` (the node's own validation of a config file, without
 * starting it) and `levelring config reference [--write DOC]` (the settings table, from the schema).
 * Loaded on demand: it pulls in the gateway's config (ajv, yaml).
 */
export function registerConfig (program: Command): void {
  const config = program.command('config').description('check a node config file; print the settings reference')

  config.command('check')
    .description('validate a YAML or JSON node config file as `levelring start --config FILE` would (env and flags aside); exit 1 naming the first bad key')
    .argument('<file>', 'the config file')
    .option('--json', 'print the resolved configuration as JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      let resolved
      try {
        resolved = checkConfigFile(file)
      } catch (err) {
        const e = err as Error & { code?: string }
        throw new CliFailure(`${file}: ${e.message}`, { code: e.code ?? 'LEVELRING_BAD_CONFIG' })
      }
      const out = new Output()
      if (flags.json === true) await out.json(resolved)
      else await out.lines([`${file}: ok (node ${resolved.nodeId}, listen ${resolved.listen.host}:${resolved.listen.port}, data ${resolved.dataDir}, n=${resolved.replicas})`])
    })

  config.command('reference')
    .description('print every setting (file key, flag, environment variable, default, meaning) as a markdown table')
    .option('--write <doc>', 'replace the table between the config-reference markers of this markdown file instead')
    .action(async (flags: { write?: string }) => {
      if (flags.write === undefined) { await new Output().lines(configReference().split('\n')); return }
      const doc = await readFile(flags.write, 'utf8')
      await writeFile(flags.write, withReference(doc))
    })
}
