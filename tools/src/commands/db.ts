import type { Command } from 'commander'
import { type CommonFlags, withEncoding, withJson, withKeyRange, withProgress } from '../cli-kit/common-options.js'
import { Output } from '../cli-kit/output.js'
import { dbApproxSize } from './db/approxsize.js'
import { dbCheck } from './db/check.js'
import { dbCompact } from './db/compact.js'
import { dbLsm } from './db/lsm.js'
import { dbImportLevelDb } from './db/import-leveldb.js'
import { dbDel, dbGet, dbPut } from './db/point-ops.js'
import { dbRepair } from './db/repair.js'
import { dbCount, dbScan } from './db/scan.js'

/**
 * Register `levelring db get|put|del|scan|count|lsm|compact|approxsize|check|repair DIR` and
 * `db import-leveldb SRC DST`: work on a closed
 * database directory. Every command takes the database's LOCK, so one a running process holds is refused.
 */
export function registerDb (program: Command): void {
  const db = program.command('db').description('work on a closed database directory (refuses one a running process holds)')

  withJson(withEncoding(db.command('get')
    .description('print the value of a key (exit 1 if it is not there)')
    .argument('<dir>', 'database directory').argument('<key>', 'the key')
    .option('--raw', 'write the value\'s exact bytes, without a newline (for binary values)')))
    .action(async (dir: string, key: string, flags) => { await dbGet(dir, key, flags, new Output()) })

  withJson(withEncoding(db.command('put')
    .description('write a value (fsynced before the command exits; in a node\'s data directory, an object with its index entries)')
    .argument('<dir>', 'database directory').argument('<key>', 'the key').argument('<value>', 'the value')
    .option('--create', 'create the database if the directory holds none')))
    .action(async (dir: string, key: string, value: string, flags) => { await dbPut(dir, key, value, flags, new Output()) })

  withJson(withEncoding(db.command('del')
    .description('delete a key (fsynced before the command exits; in a node\'s data directory, an object with its index entries)')
    .argument('<dir>', 'database directory').argument('<key>', 'the key')))
    .action(async (dir: string, key: string, flags: CommonFlags) => { await dbDel(dir, key, flags, new Output()) })

  withProgress(withJson(withEncoding(withKeyRange(db.command('scan')
    .description('print the live entries in key order (the newest version of each key; deletions hidden)')
    .argument('<dir>', 'database directory')
    .option('--reverse', 'from the last key to the first')
    .option('--no-values', 'print keys only')))))
    .action(async (dir: string, flags) => { await dbScan(dir, flags, new Output()) })

  withJson(withEncoding(db.command('count')
    .description('count the live keys (in a range, if given)')
    .argument('<dir>', 'database directory')
    .option('--from <key>', 'first key (inclusive)')
    .option('--to <key>', 'end key (exclusive)')
    .option('--prefix <bytes>', 'only keys starting with these bytes')))
    .action(async (dir: string, flags) => { await dbCount(dir, flags, new Output()) })

  withJson(withEncoding(db.command('lsm')
    .description('draw the levels: files and bytes per level, every live table, commit logs not yet in a table (read-only)')
    .argument('<dir>', 'database directory')))
    .action(async (dir: string, flags: CommonFlags) => { await dbLsm(dir, flags, new Output()) })

  withProgress(withJson(withEncoding(db.command('compact')
    .description('flush and compact every level over a key range (the whole key space by default)')
    .argument('<dir>', 'database directory')
    .option('--from <key>', 'first key of the range (inclusive)')
    .option('--to <key>', 'last key of the range (inclusive)'))))
    .action(async (dir: string, flags) => { await dbCompact(dir, flags, new Output()) })

  withJson(withEncoding(db.command('approxsize')
    .description('approximate bytes on disk of the keys in [FROM, TO)')
    .argument('<dir>', 'database directory').argument('<from>', 'first key (inclusive)').argument('<to>', 'end key (exclusive)')))
    .action(async (dir: string, from: string, to: string, flags: CommonFlags) => { await dbApproxSize(dir, from, to, flags, new Output()) })

  withProgress(withJson(withEncoding(db.command('check')
    .description('read every block of every live table and every record of the pending commit logs (read-only)')
    .argument('<dir>', 'database directory'))))
    .action(async (dir: string, flags: CommonFlags) => { await dbCheck(dir, flags, new Output()) })

  withProgress(withJson(db.command('repair')
    .description('salvage a damaged database: keep what is readable, write a new MANIFEST, move the rest to lost/')
    .argument('<dir>', 'database directory')))
    .action(async (dir: string, flags) => { await dbRepair(dir, { ...flags, encoding: 'utf8' }, new Output()) })

  withProgress(withJson(db.command('import-leveldb')
    .description('copy a LevelDB (classic-level) database into a new lsm-level database, flushed and compacted')
    .argument('<src>', 'the LevelDB database directory (opened with classic-level; not changed)')
    .argument('<dst>', 'an empty or missing directory for the new database')))
    .action(async (src: string, dst: string, flags) => { await dbImportLevelDb(src, dst, flags, new Output()) })
}
