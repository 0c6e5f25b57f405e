/**
 * The connector configuration file (connectors/config/): what a department writes for
 * `silobridge connector --config`, and every message its mistakes produce, as a person reads them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConnectorConfigError, formatProblem } from '../../connectors/config/config-problems.js';
import { createConfiguredHandlers } from '../../connectors/config/configured-handlers.js';
import type { ConnectorConfig } from '../../connectors/config/connector-config.js';
import { loadConnectorConfig } from '../../connectors/config/load-connector-config.js';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { registerConnectorCommands } from '../../gateway/cli/connector-commands.js';
import { projectRoot, schemasDir } from '../../gateway/foundation/paths.js';
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';

const BUSINESS_LICENCE_COLUMNS = {
  licenceId: 'e_licence_id',
  unifiedSocialCreditCode: 'credit_code',
  name: 'ent_name',
  entityType: 'ent_type',
  legalRepresentative: 'legal_rep',
  establishedOn: 'est_date',
  operatingPeriodFrom: 'op_from',
  domicile: 'domicile',
  businessScope: 'business_scope',
  issuingAuthority: 'reg_authority',
  issuedOn: 'issued_on',
  status: 'status',
};

/** A valid PostgreSQL connector; tests copy and break it. */
function postgresConfig() {
  return {
    department: 'market-regulation',
    system: 'market-regulation/licence-connector',
    signingKey: 'keys/connector.jwk',
    concurrency: 4,
    topicPrefix: 'dept-test',
    certificateTypes: {
      'business-licence': {
        schemaVersion: 1,
        postgres: {
          connectionString: { fromEnv: 'LICENCE_DB_URL' },
          table: 'registry.enterprise',
          subjectColumns: { unifiedSocialCreditCode: 'credit_code' },
          recordColumns: { ...BUSINESS_LICENCE_COLUMNS },
          orderBy: { column: 'issued_on' },
          poolSize: 4,
          statementTimeoutMs: 5000,
        },
      },
    },
  };
}

/** A valid HTTP connector. */
function httpConfig(baseUrl = 'https://registry.example.gov.cn/api/') {
  return {
    department: 'natural-resources',
    system: 'natural-resources/registry-connector',
    signingKey: 'keys/connector.jwk',
    kafka: { brokers: ['kafka-1:9092', 'kafka-2:9092'] },
    certificateTypes: {
      'real-estate-certificate': {
        schemaVersion: 1,
        http: {
          baseUrl,
          path: ['certificates/{certificateNumber}', 'certificates?ownerId={residentIdNumber}'],
          timeoutMs: 2000,
          headers: { 'x-api-key': { fromEnv: 'REGISTRY_API_KEY' }, 'accept-language': 'zh-CN' },
          response: {
            record: '/data',
            fields: {
              licenceId: '/eLicenceId',
              certificateNumber: '/certNo',
              unitNumber: '/unit/number',
              owners: '/owners',
              coOwnership: '/coOwnership',
              location: '/unit/location',
              rightType: '/right/type',
              rightNature: '/right/nature',
              usage: '/right/usage',
              issuingAuthority: '/office',
              issuedOn: '/issuedOn',
              status: '/status',
            },
          },
        },
      },
    },
  };
}

const ENV = {
  LICENCE_DB_URL: 'postgres://reader:secret@db.example:5432/registry',
  REGISTRY_API_KEY: 'k-123',
};

describe('connector configuration file', () => {
  let catalog: SchemaCatalog;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    catalog = await loadSchemaCatalog(schemasDir);
    dir = await mkdtemp(path.join(tmpdir(), 'silobridge-connector-config-'));
    file = path.join(dir, 'connector.yaml');
    await writeKey(path.join(dir, 'keys', 'connector.jwk'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function load(config: unknown, env: Record<string, string> = ENV): Promise<ConnectorConfig> {
    await writeFile(file, stringify(config));
    return loadConnectorConfig(file, { env, catalog });
  }

  /** The mistakes found, as `path: message` (the file and line are checked once, further down). */
  async function mistakes(config: unknown, env: Record<string, string> = ENV): Promise<string[]> {
    const error = await load(config, env).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ConnectorConfigError)) throw new Error(`expected mistakes, got ${String(error)}`);
    return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
  }

  it('loads a PostgreSQL connector: secrets from the environment, the key beside the file, required fields from the catalog', async () => {
    const config = await load(postgresConfig());
    expect(config).toMatchObject({
      file,
      department: 'market-regulation',
      system: 'market-regulation/licence-connector',
      signingKeyFile: path.join(dir, 'keys', 'connector.jwk'),
      concurrency: 4,
      topicPrefix: 'dept-test',
      kafkaBrokers: undefined,
      instanceId: undefined,
    });
    expect(config.signer.keyId).toBe('market-regulation/licence-connector#k1');
    expect(config.certificateTypes['business-licence']).toEqual({
      kind: 'postgres',
      schemaVersion: 1,
      postgres: {
        connectionString: ENV.LICENCE_DB_URL,
        table: 'registry.enterprise',
        subjectColumns: { unifiedSocialCreditCode: ['credit_code'] },
        recordColumns: BUSINESS_LICENCE_COLUMNS,
        // Not written: the fields business-licence version 1 requires.
        requiredFields: Object.keys(BUSINESS_LICENCE_COLUMNS),
        orderBy: { column: 'issued_on' },
        poolSize: 4,
        statementTimeoutMs: 5000,
      },
    });
  });

  it('loads an HTTP connector, from JSON as well as YAML', async () => {
    const config = await load(httpConfig());
    expect(config.kafkaBrokers).toEqual(['kafka-1:9092', 'kafka-2:9092']);
    expect(config.certificateTypes['real-estate-certificate']).toEqual({
      kind: 'http',
      schemaVersion: 1,
      http: {
        baseUrl: 'https://registry.example.gov.cn/api/',
        paths: ['certificates/{certificateNumber}', 'certificates?ownerId={residentIdNumber}'],
        timeoutMs: 2000,
        headers: { 'x-api-key': 'k-123', 'accept-language': 'zh-CN' },
        response: {
          record: '/data',
          fields: httpConfig().certificateTypes['real-estate-certificate'].http.response.fields,
        },
      },
    });
    const json = path.join(dir, 'connector.json');
    await writeFile(json, JSON.stringify(httpConfig(), null, '\t'));
    const fromJson = await loadConnectorConfig(json, { env: ENV, catalog });
    expect(fromJson.certificateTypes).toEqual(config.certificateTypes);
  });

  it('answers lookups through the configured HTTP service: template by identifier, headers, record and fields by pointer', async () => {
    const seen: IncomingMessage[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      res.setHeader('content-type', 'application/json');
      if (url.pathname === '/api/certificates/%E9%97%BD(2016)0012345') {
        res.end(
          JSON.stringify({
            data: {
              certNo: '闽(2016)0012345',
              owners: [{ name: '林志远', residentIdNumber: '35010219850101123X' }],
              unit: { location: '鼓楼区五四路158号', number: null },
              status: 'valid',
              internalNote: 'not mapped',
            },
          }),
        );
      } else if (url.pathname === '/api/certificates' && url.searchParams.get('ownerId')) {
        res.end(JSON.stringify({ data: null }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const config = await load(httpConfig(`http://127.0.0.1:${port}/api`));
      const { handlers, close } = createConfiguredHandlers(config);
      const handler = handlers['real-estate-certificate'];
      if (!handler) throw new Error('no handler for real-estate-certificate');
      const signal = new AbortController().signal;

      expect(await handler.lookup(lookup({ certificateNumber: '闽(2016)0012345' }), signal)).toEqual({
        certificateNumber: '闽(2016)0012345',
        owners: [{ name: '林志远', residentIdNumber: '35010219850101123X' }],
        location: '鼓楼区五四路158号',
        status: 'valid',
      });
      expect(seen[0]?.headers['x-api-key']).toBe('k-123');
      expect(seen[0]?.headers['accept-language']).toBe('zh-CN');
      // The second template, for the identifier this subject has; `data: null` is not found.
      expect(
        await handler.lookup(lookup({ residentIdNumber: '35010219850101123X' }), signal),
      ).toBeUndefined();
      expect(seen[1]?.url).toBe('/api/certificates?ownerId=35010219850101123X');
      expect(await handler.lookup(lookup({ certificateNumber: 'unknown' }), signal)).toBeUndefined();
      await expect(handler.lookup(lookup({ unifiedSocialCreditCode: 'x' }), signal)).rejects.toThrow(
        'The subject names no identifier this connector can search by.',
      );
      await close();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('names a missing setting and what it holds', async () => {
    const { signingKey: _key, ...config } = postgresConfig();
    const { table: _table, ...postgres } = config.certificateTypes['business-licence'].postgres;
    (config.certificateTypes['business-licence'] as Record<string, unknown>).postgres = postgres;
    expect(await mistakes(config)).toEqual([
      "signingKey: is missing: the path of the system's private key file (a JWK from `silobridge keys generate --alg ES256`)",
      'certificateTypes.business-licence.postgres.table: is missing: table or schema.table in lower-case letters, digits and _, e.g. registry.enterprise',
    ]);
  });

  it('says what a wrong value should be, and what it was', async () => {
    const config = postgresConfig();
    Object.assign(config, { concurrency: 'eight', heartbeatIntervalMs: 10 });
    Object.assign(config.certificateTypes['business-licence'].postgres, {
      table: 'Registry.Enterprise',
      poolSize: 1000,
      subjectColumns: { unifiedSocialCreditCode: ['credit_code', 5] },
    });
    expect(await mistakes(config)).toEqual([
      'concurrency: must be a whole number from 1 to 256, not "eight"',
      'certificateTypes.business-licence.postgres.table: must be table or schema.table in lower-case letters, digits and _, e.g. registry.enterprise, not "Registry.Enterprise"',
      'certificateTypes.business-licence.postgres.subjectColumns.unifiedSocialCreditCode[1]: must be a column name: lower-case letters, digits and _, not starting with a digit, not 5',
      'certificateTypes.business-licence.postgres.poolSize: must be a whole number from 1 to 100, not 1000',
      // Written last (Object.assign appends it), so reported last: mistakes come in the file's order.
      'heartbeatIntervalMs: must be a whole number of milliseconds from 100 to 60000, not 10',
    ]);
  });

  it('takes an unknown key for a typo, and suggests the setting meant', async () => {
    const config = postgresConfig();
    const { table, ...postgres } = config.certificateTypes['business-licence'].postgres;
    Object.assign(config, { topicPrefx: 'x' });
    Object.assign(config.certificateTypes['business-licence'], { postgres: { ...postgres, tabel: table } });
    expect(await mistakes(config)).toEqual([
      'certificateTypes.business-licence.postgres.table: is missing: table or schema.table in lower-case letters, digits and _, e.g. registry.enterprise',
      'certificateTypes.business-licence.postgres.tabel: unknown setting. Did you mean "table"? The settings here are: connectionString, table, subjectColumns, recordColumns, requiredFields, orderBy, poolSize, statementTimeoutMs, connectTimeoutMs.',
      'topicPrefx: unknown setting. Did you mean "topicPrefix"? The settings here are: department, system, signingKey, keyId, instanceId, topicPrefix, concurrency, heartbeatIntervalMs, handlerTimeoutMs, kafka, certificateTypes.',
    ]);
  });

  it('names an environment variable that is not set, and a secret file that does not exist', async () => {
    const config = httpConfig();
    Object.assign(config.certificateTypes['real-estate-certificate'].http.headers, {
      authorization: { fromFile: 'secrets/token' },
    });
    expect(await mistakes(config, { REGISTRY_API_KEY: ' ' })).toEqual([
      'certificateTypes.real-estate-certificate.http.headers.x-api-key.fromEnv: the environment variable REGISTRY_API_KEY is empty: set it, or change the setting',
      `certificateTypes.real-estate-certificate.http.headers.authorization.fromFile: the file ${path.join(dir, 'secrets', 'token')} does not exist`,
    ]);
    expect(await mistakes(postgresConfig(), {})).toEqual([
      'certificateTypes.business-licence.postgres.connectionString.fromEnv: the environment variable LICENCE_DB_URL is not set: set it, or change the setting',
    ]);
  });

  it('refuses a key file that does not exist', async () => {
    expect(await mistakes({ ...postgresConfig(), signingKey: 'keys/missing.jwk' })).toEqual([
      `signingKey: the key file ${path.join(dir, 'keys', 'missing.jwk')} does not exist (make a key pair with silobridge keys generate --alg ES256 --out <file>)`,
    ]);
  });

  it('refuses a key file other users can read, and a key that cannot sign ES256', async () => {
    const open = path.join(dir, 'keys', 'open.jwk');
    await writeKey(open, { mode: 0o644 });
    expect(await mistakes({ ...postgresConfig(), signingKey: 'keys/open.jwk' })).toEqual([
      `signingKey: the key file ${open} is open to other users (mode 0644): make it private with chmod 600 ${open}`,
    ]);
    const publicOnly = path.join(dir, 'keys', 'public.jwk');
    await writeKey(publicOnly, { publicOnly: true });
    expect(await mistakes({ ...postgresConfig(), signingKey: 'keys/public.jwk' })).toEqual([
      `signingKey: the key file ${publicOnly} holds a public key: give the private key file (the one with "d")`,
    ]);
    const noKid = path.join(dir, 'keys', 'no-kid.jwk');
    await writeKey(noKid, { kid: null });
    expect(await mistakes({ ...postgresConfig(), signingKey: 'keys/no-kid.jwk' })).toEqual([
      `signingKey: the key file ${noKid} has no "kid": give the id the key was registered under, as keyId`,
    ]);
    expect(
      (await load({ ...postgresConfig(), signingKey: 'keys/no-kid.jwk', keyId: 'k7' })).signer.keyId,
    ).toBe('market-regulation/licence-connector#k7');
  });

  it('checks certificate types, schema versions, fields and identifiers against the catalog', async () => {
    const config = postgresConfig();
    const licence = config.certificateTypes['business-licence'];
    const { domicile: _domicile, ...columns } = BUSINESS_LICENCE_COLUMNS;
    Object.assign(licence.postgres, {
      recordColumns: { ...columns, nmae: 'ent_name_2' },
      subjectColumns: { creditCode: 'credit_code' },
    });
    const types = config.certificateTypes as Record<string, unknown>;
    types['busines-licence'] = licence;
    types['food-business-licence'] = { ...structuredClone(licence), schemaVersion: 2 };
    types['resident-id-card'] = {
      schemaVersion: 1,
      http: { baseUrl: 'https://id.example/', path: 'cards/{idNumber}' },
    };
    expect(await mistakes(config)).toEqual([
      'certificateTypes.business-licence.postgres.subjectColumns.creditCode: business-licence is not looked up by "creditCode". Did you mean "unifiedSocialCreditCode"? Its subject identifiers are: unifiedSocialCreditCode.',
      'certificateTypes.business-licence.postgres.recordColumns: maps nothing to domicile, which business-licence version 1 requires: every record found would be refused as invalid',
      'certificateTypes.business-licence.postgres.recordColumns.nmae: business-licence version 1 has no field "nmae". Did you mean "name"? Its fields are: licenceId, unifiedSocialCreditCode, name, entityType, legalRepresentative, registeredCapitalYuan, establishedOn, operatingPeriodFrom, operatingPeriodTo, domicile, businessScope, issuingAuthority, issuedOn, status, statusChangedOn.',
      'certificateTypes.busines-licence: unknown certificate type. Did you mean "business-licence"? The catalog has: business-licence, food-business-licence, marriage-certificate, real-estate-certificate, resident-id-card.',
      'certificateTypes.food-business-licence.schemaVersion: food-business-licence has schema version 1, not 2',
      "certificateTypes.resident-id-card: resident-id-card is held by public-security, not market-regulation: the gateway sends its lookups to public-security's connectors",
      'certificateTypes.resident-id-card.http.path: resident-id-card is not looked up by {idNumber}. Did you mean "residentIdNumber"? Its subject identifiers are: residentIdNumber.',
    ]);
  });

  it('needs exactly one source per certificate type, and a signing system of the department', async () => {
    const config = postgresConfig();
    const types = config.certificateTypes as Record<string, unknown>;
    types['food-business-licence'] = { schemaVersion: 1 };
    Object.assign(config.certificateTypes['business-licence'], {
      http: { baseUrl: 'https://x.example/', path: 'a/{unifiedSocialCreditCode}' },
    });
    config.system = 'civil-affairs/licence-connector';
    expect(await mistakes(config)).toEqual([
      "system: belongs to department civil-affairs, not market-regulation: a connector signs as one of its own department's systems",
      'certificateTypes.business-licence: has both postgres and http: give exactly one of postgres or http',
      'certificateTypes.food-business-licence: needs exactly one of postgres or http',
    ]);
  });

  it('reports every mistake together, each with the file, line and column, in the order of the file', async () => {
    await writeFile(
      file,
      [
        'department: market-regulation',
        'system: market-regulation/licence-connector',
        'signingKey: keys/connector.jwk',
        'concurrency: 0',
        'certificateTypes:',
        '  business-licence:',
        '    schemaVersion: 1',
        '    postgres:',
        '      connectionString: { fromEnv: UNSET_DATABASE_URL }',
        '      tabel: registry.enterprise',
        '      subjectColumns: { unifiedSocialCreditCode: credit_code }',
        `      recordColumns: ${JSON.stringify(BUSINESS_LICENCE_COLUMNS)}`,
        '',
      ].join('\n'),
    );
    const error = await loadConnectorConfig(file, { env: {}, catalog }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorConfigError);
    expect((error as Error).message).toBe(
      [
        `the connector configuration ${file} has 4 mistakes:`,
        `  - ${file}:4:1: concurrency: must be a whole number from 1 to 256, not 0`,
        `  - ${file}:8:5: certificateTypes.business-licence.postgres.table: is missing: table or schema.table in lower-case letters, digits and _, e.g. registry.enterprise`,
        `  - ${file}:9:27: certificateTypes.business-licence.postgres.connectionString.fromEnv: the environment variable UNSET_DATABASE_URL is not set: set it, or change the setting`,
        `  - ${file}:10:7: certificateTypes.business-licence.postgres.tabel: unknown setting. Did you mean "table"? The settings here are: connectionString, table, subjectColumns, recordColumns, requiredFields, orderBy, poolSize, statementTimeoutMs, connectTimeoutMs.`,
      ].join('\n'),
    );
  });

  it('reports a file that is not YAML, or not there, with the place', async () => {
    await writeFile(
      file,
      'department: market-regulation\ndepartment: civil-affairs\npath: [licences/{id}]\n',
    );
    const error = (await loadConnectorConfig(file, { env: {}, catalog }).catch(
      (e: unknown) => e,
    )) as ConnectorConfigError;
    expect(error.problems.map(formatProblem)).toEqual([
      `${file}:2:1: a key appears twice in the same map (keep one)`,
      `${file}:3:17: not valid YAML or JSON: Missing , or : between flow sequence items (quote a value holding { }, such as a path template: 'licences/{id}')`,
    ]);
    const missing = path.join(dir, 'nowhere.yaml');
    await expect(loadConnectorConfig(missing)).rejects.toThrow(
      `the connector configuration ${missing} has a mistake:\n  - ${missing}: the file does not exist`,
    );
    await writeFile(file, '# nothing yet\n');
    await expect(loadConnectorConfig(file)).rejects.toThrow(
      'the file is empty: it needs department, system, signingKey and certificateTypes',
    );
  });

  it.each(['connector.yaml', 'connector-http.yaml'])(
    'the example connectors/examples/%s is valid',
    async (name) => {
      // The example as a department would deploy it: its key beside it, its environment variables set.
      const example = path.join(projectRoot, 'connectors', 'examples', name);
      const text = await readFile(example, 'utf8');
      const target = path.join(dir, 'example', name);
      await mkdir(path.dirname(target), { recursive: true });
      await copyFile(example, target);
      const keyFile = /^signingKey: (\S+)/m.exec(text)?.[1];
      if (!keyFile) throw new Error(`${name} names no signingKey`);
      await writeKey(path.join(path.dirname(target), keyFile));
      const env = Object.fromEntries(
        [...text.matchAll(/^[^#\n]*\{ fromEnv: ([A-Z_]+) \}/gm)].map((match) => [match[1], 'value']),
      );
      const config = await loadConnectorConfig(target, { env, catalog });
      expect(Object.keys(config.certificateTypes).length).toBeGreaterThan(0);
    },
  );

  it('`connector` runs itself without a subcommand, and its subcommands keep their own options', async () => {
    const program = new Command('silobridge').exitOverride();
    const connector = registerConnectorCommands(program);
    expect(connector.name()).toBe('connector');
    const registered: unknown[] = [];
    connector
      .command('register')
      .option('--system <id>')
      .option('--department <code>')
      .action((options) => {
        registered.push(options);
      });
    await program.parseAsync(['connector', 'register', '--system', 'market-regulation/licence-connector'], {
      from: 'user',
    });
    expect(registered).toEqual([{ system: 'market-regulation/licence-connector' }]);
    await expect(
      program.parseAsync(['connector', '--config', 'c.yaml', '--department', 'civil-affairs'], {
        from: 'user',
      }),
    ).rejects.toThrow(
      'give either --config <file> (your connector) or --department <code> (a sample connector), not both',
    );
  });
});

function lookup(subject: Record<string, string>): LookupRequestEnvelope {
  return {
    version: 1,
    lookupId: '7d4b7c1e-0000-4000-8000-000000000001',
    certificateType: 'real-estate-certificate',
    schemaVersion: 1,
    subject,
    purpose: { matter: 'NR-0001', caseRef: 'case-1', officer: 'officer-1' },
    requester: { department: 'civil-affairs' },
    deadline: new Date(Date.now() + 5000).toISOString(),
  };
}

/** A private ES256 JWK as `silobridge keys generate` writes it (0600 unless told otherwise). */
async function writeKey(
  file: string,
  options: { mode?: number; publicOnly?: boolean; kid?: string | null } = {},
): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk: Record<string, unknown> = {
    ...(options.publicOnly ? publicKey : privateKey).export({ format: 'jwk' }),
    alg: 'ES256',
  };
  if (options.kid !== null) jwk.kid = options.kid ?? 'k1';
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(jwk, null, 2)}\n`);
  await chmod(file, options.mode ?? 0o600);
}
