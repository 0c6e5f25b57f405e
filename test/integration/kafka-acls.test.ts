/**
 * Kafka itself keeps the departments apart. A broker of its own that enforces ACLs (StandardAuthorizer,
 * SASL/SCRAM users admin, gateway and two departments' connectors) gets the bindings of
 * gateway/bus/kafka-acls.ts, applied by the admin. Then, logged in as each principal: the gateway and
 * a connector do their jobs through the KafkaBus the product runs on, and whatever a connector must
 * not do (another department's topic or group, creating topics, reading replies) the broker refuses
 * at once with an authorization error. Last, `silobridge kafka acls` as an operator runs it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import kafkajs, { type Admin, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type AclBinding,
  type ApplyAclsReport,
  applyAcls,
  departmentAclBindings,
  type KafkaAcl,
} from '../../gateway/bus/kafka-acls.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { projectRoot } from '../../gateway/foundation/paths.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { ensureSharedTopics, REQUEST_TOPIC_PARTITIONS, topicNames } from '../../gateway/protocol/topics.js';
import { createRecordingLogger, waitLong } from '../contract/bus-contract.js';
import { type KafkaBroker, startKafkaBroker } from '../kafka/kafka-broker.js';
import { type Finished, runNode } from '../support/child-process.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ConfigResourceTypes, ResourcePatternTypes } =
  kafkajs;

const PREFIX = 'silobridge';
const topics = topicNames(PREFIX);
const GATEWAY_INSTANCE = 'gw-1';
const replyTopic = topics.lookupReplies(GATEWAY_INSTANCE);
const MARKET = 'market-regulation';
const CIVIL = 'civil-affairs';
const ADMIN = 'admin';
const GATEWAY = 'gateway';
const CONNECTOR_MARKET = `connector-${MARKET}`;
const CONNECTOR_CIVIL = `connector-${CIVIL}`;
const passwords = Object.fromEntries(
  [ADMIN, GATEWAY, CONNECTOR_MARKET, CONNECTOR_CIVIL].map((user) => [
    user,
    randomBytes(18).toString('base64url'),
  ]),
) as Record<string, string>;
/** kafkajs's message for the broker's error GROUP_AUTHORIZATION_FAILED (code 30). */
const GROUP_AUTHORIZATION_FAILED_MESSAGE = 'Not authorized to access group: Group authorization failed';
/** A refusal is the broker's answer to the first request, not a timeout or a retry loop. */
const FAST_MS = 5_000;

let broker: KafkaBroker;
let adminClient: Admin;
let firstApply: ApplyAclsReport;
let secondApply: ApplyAclsReport;
const closers: Array<() => Promise<unknown>> = [];
const gatewayReplies: IncomingMessage[] = [];
const gatewayHeartbeats: IncomingMessage[] = [];
const gatewayChanges: IncomingMessage[] = [];
let gatewayBus: Bus;

const bindings = departmentAclBindings({
  topicPrefix: PREFIX,
  departments: [MARKET, CIVIL],
  gatewayPrincipal: GATEWAY,
});

function security(user: string) {
  return {
    ssl: false,
    sasl: { mechanism: 'scram-sha-256' as const, username: user, password: passwords[user] ?? '' },
  };
}

/** SiloBridge's own bus, logged in as `user`. */
function busAs(user: string): Bus {
  const bus = createKafkaBus({
    brokers: broker.brokers,
    clientId: `kafka-acls-test-${user}`,
    logger: createRecordingLogger(),
    security: security(user),
  });
  closers.push(() => bus.close());
  return bus;
}

/**
 * A plain kafkajs client logged in as `user` that never retries, so a refusal surfaces at once. Into
 * `refused` go the error answers the broker gave, as kafkajs logs them (`<kafkajs's API name>: <message>`;
 * FindCoordinator is `GroupCoordinator` there).
 */
function kafkaAs(user: string, refused: string[] = []): Kafka {
  return new Kafka({
    clientId: `kafka-acls-test-${user}`,
    brokers: broker.brokers,
    sasl: security(user).sasl,
    logLevel: logLevel.ERROR,
    logCreator:
      () =>
      ({ namespace, log }) => {
        const api = /^Response (\w+)\(/.exec(log.message)?.[1];
        if (namespace === 'Connection' && api && typeof log.error === 'string')
          refused.push(`${api}: ${log.error}`);
      },
    connectionTimeout: 3_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
}

/** The broker's error codes anywhere in a kafkajs error: its causes, and each error of an aggregate. */
function errorTypes(error: unknown): string[] {
  if (!(error instanceof Error)) return [];
  const { type, cause, errors } = error as Error & { type?: unknown; errors?: unknown };
  return [
    ...(typeof type === 'string' ? [type] : []),
    ...errorTypes(cause),
    ...(Array.isArray(errors) ? errors.flatMap(errorTypes) : []),
  ];
}

/** Runs work that Kafka must refuse; resolves with the error, its codes and how long the refusal took. */
async function refusal(
  work: () => Promise<unknown>,
): Promise<{ error: unknown; types: string[]; ms: number }> {
  const started = Date.now();
  try {
    await work();
  } catch (error) {
    return { error, types: errorTypes(error), ms: Date.now() - started };
  }
  throw new Error('Kafka allowed what it should have refused.');
}

/** The first message a fresh consumer in `groupId` gets from `topic`, or the error it crashed with. */
async function consumeOne(kafka: Kafka, topic: string, groupId: string): Promise<KafkaMessage> {
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
    retry: { retries: 0, restartOnFailure: async () => false },
  });
  let timer: NodeJS.Timeout | undefined;
  const crashed = new Promise<never>((_, reject) => {
    consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
    timer = setTimeout(() => reject(new Error(`no message and no refusal within ${FAST_MS} ms`)), FAST_MS);
  });
  crashed.catch(() => {});
  let deliver: (message: KafkaMessage) => void = () => {};
  const received = new Promise<KafkaMessage>((resolve) => {
    deliver = resolve;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => deliver(message) });
    return await Promise.race([received, crashed]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
}

/** The ACLs the cluster holds for one principal, as kafka-acls.ts names them. */
async function aclsOf(user: string): Promise<KafkaAcl[]> {
  const { resources } = await adminClient.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
    principal: `User:${user}`,
  });
  const name = (values: object, value: number) =>
    Object.entries(values).find(([, v]) => v === value)?.[0] ?? String(value);
  return resources.flatMap((resource) =>
    resource.acls.map((acl) => ({
      principal: acl.principal,
      host: acl.host,
      resourceType: name(AclResourceTypes, resource.resourceType),
      resourceName: resource.resourceName,
      patternType: name(ResourcePatternTypes, resource.resourcePatternType),
      operation: name(AclOperationTypes, acl.operation),
      permission: name(AclPermissionTypes, acl.permissionType),
    })),
  );
}

function sorted<T extends KafkaAcl>(acls: T[]): string[] {
  return acls.map((acl) => JSON.stringify(acl, Object.keys(acl).sort())).sort();
}

beforeAll(async () => {
  broker = await startKafkaBroker({
    sasl: { username: ADMIN, password: passwords[ADMIN] ?? '' },
    users: [GATEWAY, CONNECTOR_MARKET, CONNECTOR_CIVIL].map((username) => ({
      username,
      password: passwords[username] ?? '',
    })),
    authorizer: true,
  });
  adminClient = kafkaAs(ADMIN).admin();
  await adminClient.connect();
  closers.push(() => adminClient.disconnect());
  firstApply = await applyAcls(adminClient, bindings);
  secondApply = await applyAcls(adminClient, bindings);

  // What a gateway instance does at start (gateway/lookups/lookups.ts), as the gateway principal.
  gatewayBus = busAs(GATEWAY);
  await ensureSharedTopics(gatewayBus, topics, [MARKET, CIVIL]);
  await gatewayBus.ensureTopics([replyTopic], 1, { retentionMs: 60 * 60_000 });
  const groupBase = `${PREFIX}.gateway.${GATEWAY_INSTANCE}`;
  const replies = await gatewayBus.subscribe({
    topics: [replyTopic],
    groupId: groupBase,
    handle: async (message) => void gatewayReplies.push(message),
  });
  const heartbeats = await gatewayBus.subscribe({
    topics: [topics.heartbeats],
    groupId: `${groupBase}.heartbeats`,
    fromBeginning: true,
    handle: async (message) => void gatewayHeartbeats.push(message),
  });
  // Change events: every department's, in the one group all gateway instances share.
  const changes = await gatewayBus.subscribe({
    topics: [topics.recordChanges(MARKET), topics.recordChanges(CIVIL)],
    groupId: topics.recordChangesGroup,
    fromBeginning: true,
    handle: async (message) => void gatewayChanges.push(message),
  });
  await Promise.all([replies.ready, heartbeats.ready, changes.ready]);
}, 120_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await broker?.stop();
});

describe('department ACLs on a broker that enforces them', () => {
  it('are created once by an admin; applying them again finds every one present', async () => {
    expect(firstApply.added).toHaveLength(bindings.length);
    expect(firstApply.alreadyPresent).toEqual([]);
    expect(secondApply).toEqual({ added: [], alreadyPresent: bindings, removed: [] });
    expect(sorted(await aclsOf(CONNECTOR_MARKET))).toEqual(
      sorted(bindings.filter((binding) => binding.principal === `User:${CONNECTOR_MARKET}`)),
    );
  });

  it('let the gateway create a request topic, set its retention, and publish to it', async () => {
    const requestTopic = topics.lookupRequests('public-security');
    await gatewayBus.ensureTopics([requestTopic], REQUEST_TOPIC_PARTITIONS);
    await gatewayBus.publish(requestTopic, [{ key: 'subject-1', value: '{"version":1}' }]);

    const admin = kafkaAs(GATEWAY).admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: requestTopic,
            configEntries: [{ name: 'retention.ms', value: '3600000' }],
          },
        ],
      });
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: requestTopic, configNames: ['retention.ms'] }],
      });
      expect(described.resources[0]?.configEntries[0]?.configValue).toBe('3600000');
      const offsets = await admin.fetchTopicOffsets(requestTopic);
      expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(1);
    } finally {
      await admin.disconnect();
    }
  });

  it('let a connector consume its own requests in its own group, and write replies, heartbeats, dead letters and its change events', async () => {
    const connector = busAs(CONNECTOR_MARKET);
    // The connector runtime's start: every topic exists, so it creates none (it may not).
    await ensureSharedTopics(connector, topics, [MARKET]);
    const requests: IncomingMessage[] = [];
    const subscription = await connector.subscribe({
      topics: [topics.lookupRequests(MARKET)],
      groupId: `${PREFIX}.connector.${MARKET}`,
      fromBeginning: true,
      handle: async (message) => void requests.push(message),
    });
    await subscription.ready;

    await gatewayBus.publish(topics.lookupRequests(MARKET), [
      {
        key: 'subject-1',
        value: 'request-1',
        headers: { kafka_correlationId: 'lookup-1', kafka_replyTopic: replyTopic },
      },
    ]);
    await vi.waitFor(() => expect(requests.map((message) => message.value)).toEqual(['request-1']), waitLong);

    await connector.publish(replyTopic, [
      { key: 'subject-1', value: 'reply-1', headers: { kafka_correlationId: 'lookup-1' } },
    ]);
    await connector.publish(topics.heartbeats, [{ key: `${MARKET}/mr-1`, value: 'heartbeat-1' }]);
    await connector.publish(topics.deadLetters, [
      { value: 'dead-1', headers: { silobridge_dead_letter_reason: 'test' } },
    ]);
    await connector.publish(topics.recordChanges(MARKET), [{ key: 'change-1', value: 'change-1' }]);
    await vi.waitFor(() => {
      expect(gatewayReplies.map((message) => message.value)).toEqual(['reply-1']);
      expect(gatewayHeartbeats.map((message) => message.value)).toEqual(['heartbeat-1']);
      expect(gatewayChanges.map((message) => message.value)).toEqual(['change-1']);
    }, waitLong);
    // Leaves its group empty for the consumers below, which would otherwise wait for a rebalance.
    await connector.close();
  });
});

describe(`Kafka refuses ${CONNECTOR_MARKET}, at once, when it`, () => {
  it(`reads ${CIVIL}'s request topic`, async () => {
    const { types, ms } = await refusal(() =>
      consumeOne(kafkaAs(CONNECTOR_MARKET), topics.lookupRequests(CIVIL), `${PREFIX}.connector.${MARKET}`),
    );
    expect(types).toContain('TOPIC_AUTHORIZATION_FAILED');
    expect(ms).toBeLessThan(FAST_MS);
  });

  it(`joins ${CIVIL}'s consumer group`, async () => {
    const refused: string[] = [];
    const { error, ms } = await refusal(() =>
      consumeOne(
        kafkaAs(CONNECTOR_MARKET, refused),
        topics.lookupRequests(MARKET),
        `${PREFIX}.connector.${CIVIL}`,
      ),
    );
    // kafkajs reports only that it found no coordinator; the broker's answer to FindCoordinator was
    // GROUP_AUTHORIZATION_FAILED.
    expect((error as Error).name).toBe('KafkaJSGroupCoordinatorNotFound');
    expect(refused).toContain(`GroupCoordinator: ${GROUP_AUTHORIZATION_FAILED_MESSAGE}`);
    expect(ms).toBeLessThan(FAST_MS);
  });

  it(`writes to ${CIVIL}'s request topic`, async () => {
    const producer = kafkaAs(CONNECTOR_MARKET).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const { types, ms } = await refusal(() =>
        producer.send({ topic: topics.lookupRequests(CIVIL), acks: -1, messages: [{ value: 'forged' }] }),
      );
      expect(types).toContain('TOPIC_AUTHORIZATION_FAILED');
      expect(ms).toBeLessThan(FAST_MS);
    } finally {
      await producer.disconnect();
    }
  });

  it(`announces a change of ${CIVIL}'s records`, async () => {
    const producer = kafkaAs(CONNECTOR_MARKET).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const { types, ms } = await refusal(() =>
        producer.send({ topic: topics.recordChanges(CIVIL), acks: -1, messages: [{ value: 'forged' }] }),
      );
      expect(types).toContain('TOPIC_AUTHORIZATION_FAILED');
      expect(ms).toBeLessThan(FAST_MS);
    } finally {
      await producer.disconnect();
    }
  });

  it('creates a topic', async () => {
    const admin = kafkaAs(CONNECTOR_MARKET).admin();
    await admin.connect();
    try {
      const { types, ms } = await refusal(() =>
        admin.createTopics({ topics: [{ topic: topics.lookupRequests('made-up'), numPartitions: 1 }] }),
      );
      expect(types).toContain('TOPIC_AUTHORIZATION_FAILED');
      expect(ms).toBeLessThan(FAST_MS);
    } finally {
      await admin.disconnect();
    }
  });

  it('reads a reply topic, where other departments answer', async () => {
    const { types, ms } = await refusal(() =>
      consumeOne(kafkaAs(CONNECTOR_MARKET), replyTopic, `${PREFIX}.connector.${MARKET}`),
    );
    expect(types).toContain('TOPIC_AUTHORIZATION_FAILED');
    expect(ms).toBeLessThan(FAST_MS);
  });
});

describe('applyAcls with removeStale', () => {
  it('removes the ACLs of connector principals whose department is no longer listed, and only those', async () => {
    const withNaturalResources = departmentAclBindings({
      topicPrefix: PREFIX,
      departments: [MARKET, CIVIL, 'natural-resources'],
      gatewayPrincipal: GATEWAY,
    });
    const added = await applyAcls(adminClient, withNaturalResources);
    expect(added.added.map((acl) => acl.principal)).toEqual(
      Array(added.added.length).fill('User:connector-natural-resources'),
    );

    const report = await applyAcls(adminClient, bindings, {
      removeStale: {
        topicPrefix: PREFIX,
        isConnectorPrincipal: (principal) => principal.startsWith('User:connector-'),
      },
    });
    expect(report.added).toEqual([]);
    expect(sorted(report.removed)).toEqual(sorted(added.added));
    expect(await aclsOf('connector-natural-resources')).toEqual([]);
    expect(sorted(await aclsOf(CONNECTOR_CIVIL))).toEqual(
      sorted(bindings.filter((binding) => binding.principal === `User:${CONNECTOR_CIVIL}`)),
    );
  });
});

describe('silobridge kafka acls', () => {
  /** The CLI from source, as `npx silobridge` runs it from the build. */
  function silobridge(args: string[], env: Record<string, string> = {}): Promise<Finished> {
    return runNode(['--import', 'tsx', 'gateway/cli/silobridge.ts', 'kafka', 'acls', ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
    });
  }

  const asAdmin = () => ({
    KAFKA_BROKERS: broker.brokers.join(','),
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_SASL_USERNAME: ADMIN,
    KAFKA_SASL_PASSWORD: passwords[ADMIN] ?? '',
  });

  it('prints a department connector’s fence and the gateway’s rights as JSON, applying nothing', async () => {
    const run = await silobridge(['--department', MARKET, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { topicPrefix: string; bindings: AclBinding[] };
    expect(printed.topicPrefix).toBe('silobridge');
    const row = (acl: AclBinding) =>
      `${acl.principal} ${acl.permission} ${acl.operation} ${acl.resourceType} ${acl.patternType} ${acl.resourceName} ${acl.host}`;
    expect(
      printed.bindings.filter((acl) => acl.principal === 'User:connector-market-regulation').map(row),
    ).toEqual([
      'User:connector-market-regulation ALLOW READ TOPIC LITERAL silobridge.lookup-requests.market-regulation *',
      'User:connector-market-regulation ALLOW DESCRIBE TOPIC LITERAL silobridge.lookup-requests.market-regulation *',
      'User:connector-market-regulation ALLOW READ GROUP LITERAL silobridge.connector.market-regulation *',
      'User:connector-market-regulation ALLOW DESCRIBE GROUP LITERAL silobridge.connector.market-regulation *',
      'User:connector-market-regulation ALLOW WRITE TOPIC PREFIXED silobridge.lookup-replies. *',
      'User:connector-market-regulation ALLOW DESCRIBE TOPIC PREFIXED silobridge.lookup-replies. *',
      'User:connector-market-regulation ALLOW WRITE TOPIC LITERAL silobridge.heartbeats *',
      'User:connector-market-regulation ALLOW DESCRIBE TOPIC LITERAL silobridge.heartbeats *',
      'User:connector-market-regulation ALLOW WRITE TOPIC LITERAL silobridge.dead-letters *',
      'User:connector-market-regulation ALLOW DESCRIBE TOPIC LITERAL silobridge.dead-letters *',
      'User:connector-market-regulation ALLOW WRITE TOPIC LITERAL silobridge.record-changes.market-regulation *',
      'User:connector-market-regulation ALLOW DESCRIBE TOPIC LITERAL silobridge.record-changes.market-regulation *',
      'User:connector-market-regulation ALLOW READ TOPIC LITERAL silobridge.audit-checkpoints *',
      'User:connector-market-regulation ALLOW DESCRIBE TOPIC LITERAL silobridge.audit-checkpoints *',
      'User:connector-market-regulation ALLOW READ GROUP PREFIXED silobridge.audit-checkpoints. *',
    ]);
    expect(printed.bindings.filter((acl) => acl.principal === 'User:gateway').map(row)).toEqual([
      'User:gateway ALLOW CREATE TOPIC PREFIXED silobridge. *',
      'User:gateway ALLOW DESCRIBE TOPIC PREFIXED silobridge. *',
      'User:gateway ALLOW DESCRIBE_CONFIGS TOPIC PREFIXED silobridge. *',
      'User:gateway ALLOW ALTER_CONFIGS TOPIC PREFIXED silobridge. *',
      'User:gateway ALLOW WRITE TOPIC PREFIXED silobridge.lookup-requests. *',
      'User:gateway ALLOW WRITE TOPIC LITERAL silobridge.dead-letters *',
      'User:gateway ALLOW WRITE TOPIC LITERAL silobridge.audit-checkpoints *',
      'User:gateway ALLOW READ TOPIC PREFIXED silobridge.lookup-replies. *',
      'User:gateway ALLOW READ TOPIC LITERAL silobridge.heartbeats *',
      'User:gateway ALLOW READ TOPIC PREFIXED silobridge.record-changes. *',
      'User:gateway ALLOW READ GROUP LITERAL silobridge.gateways.record-changes *',
      'User:gateway ALLOW READ GROUP PREFIXED silobridge.gateway. *',
      'User:gateway ALLOW DESCRIBE CLUSTER LITERAL kafka-cluster *',
    ]);
    expect(printed.bindings).toHaveLength(28);
  });

  it('prints a table under the configured prefix and principal names', async () => {
    const run = await silobridge(['--department', CIVIL, '--gateway-principal', 'gw-svc'], {
      SILOBRIDGE_TOPIC_PREFIX: 'acme',
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s+/)).toEqual([
      'PRINCIPAL',
      'PERMISSION',
      'OPERATION',
      'RESOURCE',
      'PATTERN',
      'NAME',
      'HOST',
    ]);
    expect(lines).toHaveLength(29);
    expect(lines.map((line) => line.split(/\s+/).join(' '))).toContain(
      'User:connector-civil-affairs ALLOW READ TOPIC LITERAL acme.lookup-requests.civil-affairs *',
    );
    expect(lines.map((line) => line.split(/\s+/).join(' '))).toContain(
      'User:gw-svc ALLOW WRITE TOPIC PREFIXED acme.lookup-requests. *',
    );
  });

  it('says what is missing without departments, and refuses to apply without brokers', async () => {
    // Without --department: the registered connectors, none in a new embedded database.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-acls-'));
    const none = await silobridge([], { SILOBRIDGE_DATA_DIR: dataDir });
    await rm(dataDir, { recursive: true, force: true });
    // The gateway's own ACLs, which must exist before it first starts, and nothing of any connector.
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).toMatch(/--department <code\.\.\.>/);
    expect(none.stdout).toContain('User:gateway');
    expect(none.stdout).not.toContain('User:connector-');
    const noBrokers = await silobridge(['--department', MARKET, '--apply']);
    expect(noBrokers.code).toBe(2);
    expect(noBrokers.stderr).toMatch(/KAFKA_BROKERS is not set/);
  });

  it('--apply creates the missing ACLs as the admin, and says what it did', async () => {
    const run = await silobridge(['--department', MARKET, CIVIL, 'public-security', '--apply'], asAdmin());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `applied to ${broker.brokers.join(',')}: 15 ACL(s) added, 43 already present, 0 removed`,
    );
    expect(await aclsOf('connector-public-security')).toHaveLength(15);
  });

  it('--apply as a principal that may not manage ACLs fails, saying what it needs', async () => {
    const run = await silobridge(['--department', MARKET, '--apply'], {
      ...asAdmin(),
      KAFKA_SASL_USERNAME: CONNECTOR_MARKET,
      KAFKA_SASL_PASSWORD: passwords[CONNECTOR_MARKET] ?? '',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Kafka refused to list or change ACLs for this user.*super user/);
  });
});
