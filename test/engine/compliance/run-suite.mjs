// Runs the abstract-level compliance suite (tape) against the built lsm-level package.
// Usage: node run-suite.mjs [default|tiny]  — "tiny" uses minuscule memtable and block sizes so that the
// suite's writes go through flushes, SSTables and compactions too.
import test from 'tape'
import suite from 'abstract-level/test/index.js'
import { LsmLevel } from 'lsm-level'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const config = process.argv[2] ?? 'default'
const tuning = config === 'tiny'
  ? { writeBufferSize: 512, blockSize: 64, blockRestartInterval: 2, maxFileSize: 2048, maxBytesForLevelBase: 8192, level0CompactionTrigger: 2 }
  : {}
const root = mkdtempSync(join(tmpdir(), `lsm-compliance-${config}-`))
let n = 0

suite({
  test,
  factory (options) {
    return new LsmLevel(join(root, `db${n++}`), { ...tuning, ...options })
  }
})

test.onFinish(() => rmSync(root, { recursive: true, force: true }))
