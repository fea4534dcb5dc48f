import { defineConfig } from 'vitest/config';

/** Tests live beside the code; e2e/ holds the real-server end-to-end suites. */
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'data/**'],
    globalSetup: ['platform/test-support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './platform/test-support/summary-reporter.ts'],
  },
});
