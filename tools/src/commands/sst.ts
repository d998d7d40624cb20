import type { Command } from 'commander'
import { withEncoding, withJson, withKeyRange, withProgress } from '../cli-kit/common-options.js'
import { Output } from '../cli-kit/output.js'
import { sstCheck } from './sst/check.js'
import { sstIdentify } from './sst/identify.js'
import { sstLayout } from './sst/layout.js'
import { sstProperties } from './sst/properties.js'
import { sstScan } from './sst/scan.js'
import { sstVerify } from './sst/verify.js'

/** Register `levelring sst scan|check|verify|properties|layout|identify`: look inside SSTable files. */
export function registerSst (program: Command): void {
  const sst = program.command('sst').description('inspect SSTable files (.sst): entries, checks, checksums, properties, layout')

  withProgress(withJson(withEncoding(withKeyRange(sst.command('scan')
    .description('print the entries of a table in order (every version and deletion it holds)')
    .argument('<file>', 'an .sst file')
    .option('--internal', 'show each entry\'s sequence number and kind')
    .option('--no-values', 'print keys only')))))
    .action(async (file: string, flags) => { await sstScan(file, flags, new Output()) })

  withProgress(withJson(withEncoding(sst.command('check')
    .description('read every block; check key order, index bounds and that the entry counts match the properties')
    .argument('<path>', 'an .sst file, or a directory: every .sst file in it'))))
    .action(async (path: string, flags) => { await sstCheck(path, flags, new Output()) })

  withProgress(withJson(withEncoding(sst.command('verify')
    .description('verify the checksum of every block, listing every damaged block with its offset')
    .argument('<path>', 'an .sst file, or a directory: every .sst file in it'))))
    .action(async (path: string, flags) => { await sstVerify(path, flags, new Output()) })

  withJson(withEncoding(sst.command('properties')
    .description('show the properties: entries, key and sequence range, sizes, filter, format version')
    .argument('<path>', 'an .sst file, or a directory: every .sst file in it')))
    .action(async (path: string, flags) => { await sstProperties(path, flags, new Output()) })

  withJson(sst.command('layout')
    .description('show the offset and size of every data block, the filter, properties, index and footer')
    .argument('<file>', 'an .sst file'))
    .action(async (file: string, flags) => { await sstLayout(file, { ...flags, encoding: 'utf8' }, new Output()) })

  withJson(sst.command('identify')
    .description('tell whether a file is an SSTable (by its content); for a directory, list the SSTables in it')
    .argument('<path>', 'a file or a directory'))
    .action(async (path: string, flags) => { await sstIdentify(path, { ...flags, encoding: 'utf8' }, new Output()) })
}
