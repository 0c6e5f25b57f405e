import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real brokers and databases: report slow tests, but do not fail them for it.
    slowTestThreshold: 2_000,
    env: { KAFKAJS_NO_PARTITIONER_WARNING: '1' },
  },
});
