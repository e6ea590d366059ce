import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file opens its own DuckDB files; files run in parallel across the two cores.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
