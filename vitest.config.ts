import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'

// test/stress runs only under `npm run stress` (STRESS=1 vitest run test/stress).
const EXCLUDED = process.env.STRESS === '1' ? ['node_modules/**'] : ['test/stress/**', 'node_modules/**']

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
    // Projects extend this (arrays such as include/exclude would be concatenated, so each project names its own).
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: [...EXCLUDED, 'test/cluster/**'], sequence: { groupOrder: 0 } }
      },
      {
        // The multi-process cluster suites time failure detection and hinted handoff: they run after the
        // rest, one file at a time, so that no CPU-bound suite starves their nodes into false suspicions.
        extends: true,
        test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], exclude: EXCLUDED, fileParallelism: false, sequence: { groupOrder: 1 } }
      }
    ]
  }
})
