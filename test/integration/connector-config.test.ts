/**
 * `silobridge connector --config connector.yaml` as a department runs it: its own process, a table of
 * its own PostgreSQL database, the real Kafka broker. Lookups sent the way the gateway sends them come
 * back found or not found with the record mapped from the table, and every reply and heartbeat carries
 * a signature that verifies with the public half of the configured key. `--check` exits 0 with a
 * summary, or 1 with every mistake.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLookupRequester, type LookupRequester } from '../../connectors/testing/lookup-requester.js';
import { createKafkaBus } from '../../gateway/bus/kafka-bus.js';
import { projectRoot, sampleSeedDir } from '../../gateway/foundation/paths.js';
import type { Bus } from '../../gateway/protocol/bus.js';
import {
  decodeCompactJws,
  disclosureDigest,
  readDisclosure,
  verifiesWith,
} from '../../gateway/protocol/department-signature.js';
import type { HeartbeatEnvelope, LookupReplyEnvelope } from '../../gateway/protocol/envelopes.js';
import { topicNames } from '../../gateway/protocol/topics.js';
import { exitOf, runNode, stopChildProcess } from '../support/child-process.js';
import { PURPOSE } from '../support/lookup-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { createTestGatewayEnvironment, lookupThroughGateway } from '../support/test-gateway.js';

/** The CLI from its sources, so the test runs what the working tree holds (no build needed). */
const CLI = ['--import', 'tsx', path.join(projectRoot, 'gateway', 'cli', 'silobridge.ts')];
const DEPARTMENT = 'market-regulation';
const SYSTEM = 'market-regulation/licence-connector';
const logger = pino({ level: 'silent' });

/** business-licence fields -> the department's own column names and types. */
const COLUMNS: Record<string, [column: string, type: string]> = {
  licenceId: ['e_licence_id', 'text NOT NULL'],
  unifiedSocialCreditCode: ['credit_code', 'text PRIMARY KEY'],
  name: ['ent_name', 'text NOT NULL'],
  entityType: ['ent_type', 'text NOT NULL'],
  legalRepresentative: ['legal_rep', 'text NOT NULL'],
  // double precision, not numeric: pg hands numeric over as text, which the schema refuses.
  registeredCapitalYuan: ['reg_capital', 'double precision'],
  establishedOn: ['est_date', 'date NOT NULL'],
  operatingPeriodFrom: ['op_from', 'date NOT NULL'],
  operatingPeriodTo: ['op_to', 'date'],
  domicile: ['domicile', 'text NOT NULL'],
  businessScope: ['business_scope', 'text NOT NULL'],
  issuingAuthority: ['reg_authority', 'text NOT NULL'],
  issuedOn: ['issued_on', 'date NOT NULL'],
  status: ['status', 'text NOT NULL'],
  statusChangedOn: ['status_changed_on', 'date'],
};

const SEED = (
  JSON.parse(readFileSync(path.join(sampleSeedDir, 'business-licence.json'), 'utf8')) as Array<{
    record: Record<string, unknown>;
  }>
)
  .slice(0, 3)
  .map((entry) => entry.record);

function connectorYaml(options: { prefix: string; brokers: string; keyFile: string }): string {
  const recordColumns = Object.entries(COLUMNS)
    .map(([field, [column]]) => `        ${field}: ${column}`)
    .join('\n');
  return `# A department's connector: its enterprise register, as it is.
department: ${DEPARTMENT}
system: ${SYSTEM}
signingKey: ${options.keyFile}
topicPrefix: ${options.prefix}
heartbeatIntervalMs: 500
kafka:
  brokers: [${options.brokers}]
certificateTypes:
  business-licence:
    schemaVersion: 1
    postgres:
      connectionString: { fromEnv: LICENCE_DB_URL }
      table: registry.enterprise
      subjectColumns:
        unifiedSocialCreditCode: credit_code
      recordColumns:
${recordColumns}
      poolSize: 2
      statementTimeoutMs: 5000
`;
}

describe('silobridge connector --config (PostgreSQL table, real Kafka)', () => {
  const prefix = `cfg${randomBytes(4).toString('hex')}`;
  const brokers = inject('kafkaBrokers');
  let database: TestDatabase;
  let dir: string;
  let configFile: string;
  let publicKey: KeyObject;
  let bus: Bus;
  let requester: LookupRequester;
  let child: ChildProcess;
  let output = '';
  const heartbeats: Array<HeartbeatEnvelope & { signature?: string }> = [];
  const env = () => ({ PATH: process.env.PATH ?? '', LICENCE_DB_URL: database.url, LOG_LEVEL: 'warn' });

  beforeAll(async () => {
    database = await createTestDatabase();
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      const columns = Object.values(COLUMNS).map(([column, type]) => `${column} ${type}`);
      await pool.query(`CREATE SCHEMA registry; CREATE TABLE registry.enterprise (${columns.join(', ')})`);
      for (const record of SEED) {
        const fields = Object.keys(record);
        await pool.query(
          `INSERT INTO registry.enterprise (${fields.map((field) => COLUMNS[field]?.[0]).join(', ')})
           VALUES (${fields.map((_, i) => `$${i + 1}`).join(', ')})`,
          fields.map((field) => record[field]),
        );
      }
    } finally {
      await pool.end();
    }

    dir = await mkdtemp(path.join(tmpdir(), 'silobridge-connector-config-'));
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    publicKey = pair.publicKey;
    await writeFile(
      path.join(dir, 'licence-connector.jwk'),
      JSON.stringify({ ...pair.privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }),
    );
    await chmod(path.join(dir, 'licence-connector.jwk'), 0o600);
    configFile = path.join(dir, 'connector.yaml');
    await writeFile(configFile, connectorYaml({ prefix, brokers, keyFile: 'licence-connector.jwk' }));

    bus = createKafkaBus({
      brokers: brokers.split(','),
      clientId: `connector-config-test-${randomBytes(3).toString('hex')}`,
      logger,
    });
    const topics = topicNames(prefix);
    await bus.ensureTopics([topics.heartbeats]);
    const watch = await bus.subscribe({
      topics: [topics.heartbeats],
      groupId: `${prefix}.watch`,
      fromBeginning: true,
      handle: async (message) => {
        heartbeats.push(JSON.parse(message.value));
      },
    });
    await watch.ready;
    requester = createLookupRequester({ bus, topicPrefix: prefix });
    await requester.start();

    child = spawn(
      process.execPath,
      [...CLI, 'connector', '--config', configFile, '--instance-id', 'mr-config-1'],
      { cwd: projectRoot, env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
  });

  afterAll(async () => {
    if (child) await stopChildProcess(child);
    await requester?.stop();
    await bus?.close();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('announces itself up, with heartbeats signed by the configured key', { timeout: 90_000 }, async () => {
    await vi.waitFor(
      () => {
        expect(
          heartbeats.some((beat) => beat.instanceId === 'mr-config-1' && beat.state === 'up'),
          output,
        ).toBe(true);
      },
      { timeout: 80_000, interval: 200 },
    );
    const beat = heartbeats.find(
      (candidate) => candidate.instanceId === 'mr-config-1',
    ) as HeartbeatEnvelope & {
      signature: string;
    };
    expect(beat).toMatchObject({
      department: DEPARTMENT,
      intervalMs: 500,
      certificateTypes: [{ certificateType: 'business-licence', schemaVersion: 1 }],
    });
    const { signature, ...signed } = beat;
    const decoded = decodeCompactJws(signature);
    expect(decoded.header).toMatchObject({ alg: 'ES256', kid: `${SYSTEM}#k1` });
    expect(decoded.payload).toEqual(signed);
    expect(await verifiesWith(decoded, publicKey)).toBe(true);
  });

  it('answers found with the record mapped from the table, signed field by field', async () => {
    const wanted = SEED[0] as Record<string, unknown>;
    const reply = await requester.lookup(
      DEPARTMENT,
      {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: wanted.unifiedSocialCreditCode },
      },
      15_000,
    );
    expect(reply, output).toMatchObject({
      outcome: 'found',
      certificateType: 'business-licence',
      schemaVersion: 1,
      connector: { department: DEPARTMENT, instanceId: 'mr-config-1' },
    });
    if (reply.outcome !== 'found') throw new Error(`expected found, got ${JSON.stringify(reply)}`);
    // Every seed field, each from its own column; NULL columns left out.
    expect(reply.record).toEqual(wanted);

    const decoded = await verifiedSignature(reply, publicKey);
    const claims = decoded.payload as { digests: Record<string, string> };
    expect(Object.keys(claims.digests).sort()).toEqual(Object.keys(wanted).sort());
    for (const [field, value] of Object.entries(reply.record)) {
      const disclosure = reply.disclosures?.[field];
      expect(disclosureDigest(disclosure as string)).toBe(claims.digests[field]);
      expect(readDisclosure(disclosure)).toMatchObject({ name: field, value });
    }
  });

  it('answers not found, signed, when no row matches', async () => {
    const reply = await requester.lookup(
      DEPARTMENT,
      { certificateType: 'business-licence', subject: { unifiedSocialCreditCode: '91350100MA00000000' } },
      15_000,
    );
    expect(reply, output).toMatchObject({ outcome: 'not-found', connector: { instanceId: 'mr-config-1' } });
    expect((await verifiedSignature(reply, publicKey)).payload).toMatchObject({ outcome: 'not-found' });
  });

  it('sends the fields asked for and those the schema requires (requiredFields from the catalog)', async () => {
    const wanted = SEED[1] as Record<string, unknown>;
    const reply = await requester.lookup(
      DEPARTMENT,
      {
        certificateType: 'business-licence',
        subject: { unifiedSocialCreditCode: wanted.unifiedSocialCreditCode },
        fields: ['operatingPeriodTo'],
      },
      15_000,
    );
    if (reply.outcome !== 'found') throw new Error(`expected found, got ${JSON.stringify(reply)}\n${output}`);
    const required = [
      'licenceId',
      'unifiedSocialCreditCode',
      'name',
      'entityType',
      'legalRepresentative',
      'establishedOn',
      'operatingPeriodFrom',
      'domicile',
      'businessScope',
      'issuingAuthority',
      'issuedOn',
      'status',
    ];
    const expected = Object.fromEntries(
      Object.entries(wanted).filter(([field]) => [...required, 'operatingPeriodTo'].includes(field)),
    );
    expect(reply.record).toEqual(expected);
  });

  it('answers an approval system through the gateway once its system and key are registered', {
    timeout: 60_000,
  }, async () => {
    const gatewayEnv = await createTestGatewayEnvironment(prefix);
    try {
      const wanted = SEED[0] as Record<string, unknown>;
      const found = await lookupThroughGateway(gatewayEnv, `${prefix}-gw`, {
        system: {
          id: SYSTEM,
          name: 'Enterprise register connector (config file)',
          publicJwk: { ...publicKey.export({ format: 'jwk' }), kid: 'k1' },
        },
        lookup: {
          certificateType: 'business-licence',
          subject: { unifiedSocialCreditCode: wanted.unifiedSocialCreditCode },
          purpose: PURPOSE,
        },
        context: () => output,
      });
      expect(found.body).toMatchObject({
        provider: DEPARTMENT,
        record: { unifiedSocialCreditCode: wanted.unifiedSocialCreditCode, name: wanted.name },
        departmentSignature: { keyId: `${SYSTEM}#k1` },
      });
    } finally {
      await gatewayEnv.cleanup();
    }
  });

  it('says down and exits 0 on SIGTERM', { timeout: 30_000 }, async () => {
    const exited = exitOf(child);
    child.kill('SIGTERM');
    await exited;
    expect(child.exitCode, output).toBe(0);
    await vi.waitFor(
      () => {
        expect(heartbeats.some((beat) => beat.instanceId === 'mr-config-1' && beat.state === 'down')).toBe(
          true,
        );
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('--check exits 0 and summarises the file, without its secrets', { timeout: 60_000 }, async () => {
    const { code, stdout, stderr } = await runNode([...CLI, 'connector', '--config', configFile, '--check'], {
      cwd: projectRoot,
      env: env(),
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`${configFile} is valid.`);
    expect(stdout).toContain(`signs as:     ${SYSTEM}#k1 (key ${path.join(dir, 'licence-connector.jwk')})`);
    expect(stdout).toContain(
      'business-licence (schema version 1): PostgreSQL table registry.enterprise (15 fields; looked up by unifiedSocialCreditCode; pool of 2; statement timeout 5000 ms)',
    );
    expect(stdout).toContain(`kafka:        ${brokers.split(',').join(', ')} (from the file)`);
    expect(stdout).not.toContain(database.url);
  });

  it('--check exits 1 and lists every mistake: a typo, an unset variable, a key others can read', {
    timeout: 60_000,
  }, async () => {
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(
      broken,
      connectorYaml({ prefix, brokers, keyFile: 'open.jwk' }).replace('name: ent_name', 'nmae: ent_name'),
    );
    const openKey = path.join(dir, 'open.jwk');
    await writeFile(openKey, readFileSync(path.join(dir, 'licence-connector.jwk')));
    await chmod(openKey, 0o644);
    const { code, stdout, stderr } = await runNode([...CLI, 'connector', '--config', broken, '--check'], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(code, stderr).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`silobridge: the connector configuration ${broken} has 4 mistakes:`);
    expect(stderr).toContain(
      `${broken}:4:1: signingKey: the key file ${openKey} is open to other users (mode 0644): make it private with chmod 600 ${openKey}`,
    );
    expect(stderr).toContain(
      `${broken}:13:27: certificateTypes.business-licence.postgres.connectionString.fromEnv: the environment variable LICENCE_DB_URL is not set: set it, or change the setting`,
    );
    expect(stderr).toContain(
      `${broken}:17:7: certificateTypes.business-licence.postgres.recordColumns: maps nothing to name, which business-licence version 1 requires: every record found would be refused as invalid`,
    );
    expect(stderr).toContain(
      `${broken}:20:9: certificateTypes.business-licence.postgres.recordColumns.nmae: business-licence version 1 has no field "nmae". Did you mean "name"?`,
    );
  });
});

/** The reply's signature, after checking it verifies with `publicKey` and says what the reply says. */
async function verifiedSignature(reply: LookupReplyEnvelope, publicKey: KeyObject) {
  const decoded = decodeCompactJws(reply.signature);
  expect(decoded.header).toMatchObject({ alg: 'ES256', kid: `${SYSTEM}#k1`, typ: 'silobridge-reply+jws' });
  expect(await verifiesWith(decoded, publicKey)).toBe(true);
  expect(decoded.payload).toMatchObject({
    lookupId: reply.lookupId,
    certificateType: reply.certificateType,
    schemaVersion: reply.schemaVersion,
    outcome: reply.outcome,
    department: DEPARTMENT,
  });
  return decoded;
}
