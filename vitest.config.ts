import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing running (npx vitest --project unit); `integration` gets a real
// Kafka broker and a migrated PostgreSQL template from its global setup. `npm test` runs both.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real brokers and databases: report slow tests, but do not fail them for it.
    slowTestThreshold: 2_000,
    env: { KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
