/**
 * SiloBridge's dependency rules; docs/architecture.md explains the rooms they keep apart.
 * `npm run lint` runs them (npm run deps alone).
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment:
        'Folders depend on each other one way only. A type two folders share belongs in a folder both may import (access/, protocol/).',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-stands-alone',
      comment:
        'gateway/protocol/ is the wire contract connectors are built on: it imports nothing else of the gateway, so the connector SDK ships without it.',
      severity: 'error',
      from: { path: '^gateway/protocol/' },
      to: { path: '^(gateway|connectors)/', pathNot: '^gateway/protocol/' },
    },
    {
      name: 'connectors-only-through-protocol',
      comment:
        'connectors/ (the SDK, adapters and samples) reaches the gateway through gateway/protocol/ only.',
      severity: 'error',
      from: { path: '^connectors/' },
      to: { path: '^gateway/', pathNot: '^gateway/protocol/' },
    },
    {
      name: 'kafkajs-only-in-the-kafka-bus',
      comment:
        'Kafka is behind the Bus interface (gateway/protocol/bus.ts); only its Kafka adapter speaks kafkajs.',
      severity: 'error',
      from: {
        path: '^(gateway|connectors)/',
        pathNot: ['^gateway/bus/kafka-[a-z-]+\\.ts$', '^connectors/examples/'],
      },
      to: { path: '(^|/)node_modules/kafkajs/' },
    },
    {
      name: 'pg-only-in-its-adapters',
      comment:
        'PostgreSQL is behind the Database interface (gateway/storage/database.ts); a connector adapter may read a department database.',
      severity: 'error',
      from: {
        path: '^(gateway|connectors)/',
        pathNot: '^(gateway/storage/postgres-database|connectors/adapters/postgres-table-adapter)\\.ts$',
      },
      to: { path: '(^|/)node_modules/pg/' },
    },
    {
      name: 'routes-never-reach-storage',
      comment: 'HTTP routes call services; only stores and services touch the database.',
      severity: 'error',
      from: { path: '-routes\\.ts$' },
      to: { path: '(^gateway/storage/|-store\\.ts$)' },
    },
    {
      name: 'foundation-is-a-leaf',
      comment:
        'gateway/foundation/ (config, errors, logger, paths) is used everywhere, so it uses nothing but protocol types.',
      severity: 'error',
      from: { path: '^gateway/foundation/' },
      to: { path: '^(gateway|connectors)/', pathNot: '^gateway/(foundation|protocol)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^test/' },
  },
};
