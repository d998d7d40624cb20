import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'

export default defineConfig({
  resolve: {
    // Tests exercise the engine's source; child processes started by tests run the built dist/.
    alias: [
      { find: /^lsm-level\/tools$/, replacement: fileURLToPath(new URL('./engine/src/tools-api.ts', import.meta.url)) },
      { find: /^lsm-level$/, replacement: fileURLToPath(new URL('./engine/src/index.ts', import.meta.url)) }
    ]
  },
  test: {
    include: ['test/**/*.test.ts'],
    // test/stress runs only under `npm run stress` (STRESS=1 vitest run test/stress).
    exclude: process.env.STRESS === '1' ? ['node_modules/**'] : ['test/stress/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores on CI: two test files at a time; cluster suites start real processes.
    maxWorkers: 2,
    reporters: ['default']
  }
})
