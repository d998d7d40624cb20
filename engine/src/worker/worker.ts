/**
 * The background worker thread: runs flushes and compactions off the main thread, so that on a machine with
 * two or more cores the event loop keeps serving reads and writes while tables are built. It reads and writes
 * table files through its own RealFileSystem; the main thread records the results in the MANIFEST.
 */
import { parentPort } from 'node:worker_threads'
import { RealFileSystem } from '../fs/real.js'
import { runCompactionJob, writeTable, type CompactionJob, type TableLayout } from '../compaction/job.js'
import { MemtableRunIterator } from '../memtable/run-iterator.js'
import { reviveJob, reviveMeta, serializeError, type WorkerRequest } from './protocol.js'

const fs = new RealFileSystem()
const port = parentPort!

port.on('message', (msg: WorkerRequest) => {
  void handle(msg)
})

async function handle (msg: WorkerRequest): Promise<void> {
  const abortFlag = new Int32Array(msg.abort)
  // Yield between slices: flushes and compactions share this thread and take turns.
  const hooks = { sliceEntries: 4096, yieldBetweenSlices: true, shouldAbort: () => Atomics.load(abortFlag, 0) !== 0 }
  try {
    if (msg.type === 'flush') {
      const meta = await writeTable(fs, msg.dir, msg.number, new MemtableRunIterator(msg.run), msg.layout as TableLayout, hooks)
      port.postMessage({ id: msg.id, ok: true, result: meta })
    } else {
      const job: CompactionJob = reviveJob(msg.job)
      const result = await runCompactionJob(fs, job, hooks)
      port.postMessage({ id: msg.id, ok: true, result })
    }
  } catch (err) {
    port.postMessage({ id: msg.id, ok: false, error: serializeError(err) })
  }
}

export { reviveMeta }
