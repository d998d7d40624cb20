import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

// test/stress runs only under `npm run stress` (STRESS=1 vitest run test/stress).
const EXCLUDED = process.env.STRESS === '1' ? ['node_modules/**'] : ['test/stress/**', 'node_modules/**']

const ROOT = fileURLToPath(new URL('.', import.meta.url))

/**
 * Files that run longest on two cores (each from several to tens of seconds: processes started and killed, whole
 * suites), longest first. Without vitest's cache of past durations (a fresh clone, CI) files start
 * largest first, and these are small: started last, one of them would run alone at the end while
 * the other worker idles.
 */
const LONGEST_FIRST = [
  'test/tools/bench-scale.test.ts',
  'test/gateway/anti-entropy/index-crash.test.ts',
  'test/engine/compliance.test.ts',
  'test/tools/cluster.test.ts',
  'test/engine/durability/power-loss.test.ts',
  'test/tools/sst.test.ts',
  'test/tools/kv-client.test.ts',
  'test/tools/scale-seed.test.ts',
  'test/engine/durability/metamorphic.test.ts',
  'test/tools/docs-commands.test.ts',
  'test/tools/db.test.ts',
  'test/tools/bench-smoke.test.ts',
  'test/gateway/node/stopping.test.ts',
  'test/engine/package.test.ts',
  'test/engine/durability/process-crash.test.ts',
  'test/cluster/range-restore.test.ts',
  'test/cluster/join-leave.test.ts',
  'test/cluster/sweep-yields.test.ts',
  'test/cluster/hints-and-leave.test.ts',
  'test/cluster/partition-stream-resume.test.ts',
  'test/cluster/node-failure.test.ts',
  'test/cluster/zones.test.ts',
  'test/cluster/remove-replace.test.ts',
  'test/cluster/hint-lost-partition.test.ts'
]

/** vitest's order (groups, projects, its cache), except that LONGEST_FIRST files start first within their project. */
class LongestFirst extends BaseSequencer {
  override async sort (files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const rank = (spec: TestSpecification): number => {
      const i = LONGEST_FIRST.indexOf(relative(ROOT, spec.moduleId).split('\\').join('/'))
      return i === -1 ? LONGEST_FIRST.length : i
    }
    const project = (spec: TestSpecification): string => `${spec.project.config.sequence.groupOrder}|${spec.project.name}`
    const projects = [...new Set(sorted.map(project))]
    return sorted.map((spec, at) => ({ spec, at }))
      .sort((a, b) => projects.indexOf(project(a.spec)) - projects.indexOf(project(b.spec)) || rank(a.spec) - rank(b.spec) || a.at - b.at)
      .map(({ spec }) => spec)
  }
}

export default defineConfig({
  resolve: {
    // Tests exercise the engine's source; child processes started by tests run the built dist/.
    alias: [
      { find: /^lsm-level\/tools$/, replacement: fileURLToPath(new URL('./engine/src/tools-api.ts', import.meta.url)) },
      { find: /^lsm-level$/, replacement: fileURLToPath(new URL('./engine/src/index.ts', import.meta.url)) }
    ]
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores on CI: two test files at a time (one at a time for the cluster suites, below).
    maxWorkers: 2,
    reporters: ['default'],
    sequence: { sequencer: LongestFirst },
    // Projects extend this (arrays such as include/exclude would be concatenated, so each project names its own).
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: [...EXCLUDED, 'test/cluster/**'], sequence: { groupOrder: 0 } }
      },
      {
        // The multi-process cluster suites time failure detection and hinted handoff: they run after the
        // rest, so that no CPU-bound engine suite starves their nodes into false suspicions; two at a time,
        // as their nodes mostly wait on timers and each other (their bounds allow a machine this loaded).
        extends: true,
        test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], exclude: EXCLUDED, sequence: { groupOrder: 1 } }
      }
    ]
  }
})
