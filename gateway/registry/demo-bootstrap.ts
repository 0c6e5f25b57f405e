/**
 * The embedded demo's identities: the sample departments, an approval system of the government
 * service centre, a civil-affairs registry, a data officer's console (`audit`) and an administrator,
 * and for each sample department a `connector` system and its connector registration. Each system has
 * a key pair whose private half is written under `<dataDir>/demo-keys/` (0600). Idempotent: a restart
 * reuses what exists, and repairs a system whose key file went missing with a fresh key.
 */
import path from 'node:path';
import { SAMPLE_DEPARTMENTS } from '../../connectors/samples/sample-departments.js';
import type { Role } from '../access/caller.js';
import { readKeyFile, writePrivateKeyFile } from '../identity/key-files.js';
import { generateKeyPair, type ParsedPublicKey, publicHalf } from '../identity/system-keys.js';
import { createDepartmentSigner, type DepartmentSigner } from '../protocol/department-signature.js';
import type { Registry, SystemWithKeys } from './registry.js';
import { ConflictError } from './registry-errors.js';

const ACTOR = 'demo-bootstrap';

export const DEMO_DEPARTMENTS = [
  { code: 'market-regulation', nameEn: 'Administration for Market Regulation', nameZh: '市场监督管理局' },
  { code: 'public-security', nameEn: 'Public Security Bureau', nameZh: '公安局' },
  { code: 'civil-affairs', nameEn: 'Civil Affairs Bureau', nameZh: '民政局' },
  { code: 'natural-resources', nameEn: 'Natural Resources Bureau', nameZh: '自然资源局' },
  { code: 'service-centre', nameEn: 'Government Service Centre', nameZh: '政务服务中心' },
  {
    code: 'data-office',
    nameEn: 'Government Services and Data Administration',
    nameZh: '政务服务和数据管理局',
  },
];

export const DEMO_SYSTEMS: ReadonlyArray<{ id: string; name: string; roles: Role[] }> = [
  { id: 'service-centre/approval', name: 'One-stop approval workflow (一网通办审批系统)', roles: ['lookup'] },
  {
    id: 'civil-affairs/marriage-registry',
    name: 'Marriage registration system (婚姻登记系统)',
    roles: ['lookup'],
  },
  {
    id: 'natural-resources/real-estate-registry',
    name: 'Real estate registration system (不动产登记系统)',
    roles: ['lookup'],
  },
  { id: 'data-office/audit-console', name: "Data officers' audit console (数据审计台)", roles: ['audit'] },
  { id: 'data-office/gateway-admin', name: 'Gateway administration (网关管理)', roles: ['admin'] },
];

/** The system each sample department's connector signs with: `<department>/connector`. */
export const sampleConnectorSystem = (department: string) => `${department}/connector`;

const SAMPLE_CONNECTOR_SYSTEMS = SAMPLE_DEPARTMENTS.map((department) => ({
  id: sampleConnectorSystem(department.code),
  name: `Sample connector (${department.name.zh}示例连接器)`,
  roles: ['connector'] as Role[],
}));

export interface DemoIdentity {
  systemId: string;
  roles: Role[];
  keyFile: string;
  /** Prints a token for this system, ready to paste. */
  tokenCommand: string;
}

export interface DemoBootstrapResult {
  identities: DemoIdentity[];
  /** What changed in this run (empty on a restart with nothing to repair). */
  created: string[];
  /** Human hint for stderr: the systems and how to get a token. */
  banner: string;
}

export interface SampleConnectorIdentities {
  /** Signs for a sample department's connector with the key in `<dataDir>/demo-keys/`. */
  signerFor(department: string): DepartmentSigner;
  identities: DemoIdentity[];
  created: string[];
}

export interface BootstrapDemoOptions {
  registry: Registry;
  dataDir: string;
  /** How the banner spells the command; default `npx silobridge`. */
  command?: string;
}

export function demoKeyFile(dataDir: string, systemId: string): string {
  return path.join(dataDir, 'demo-keys', `${systemId.replace('/', '.')}.jwk`);
}

/** The public half of the key in the file, if there is a readable private JWK there. */
async function keyInFile(file: string): Promise<ParsedPublicKey | undefined> {
  try {
    return await publicHalf(await readKeyFile(file));
  } catch {
    return undefined;
  }
}

/** Whether the key file can sign for the system: its key is active, or could be registered now. */
async function keyUsable(registry: Registry, system: SystemWithKeys, key: ParsedPublicKey | undefined) {
  if (!key) return false;
  const registered = system.keys.find((candidate) => candidate.thumbprint === key.thumbprint);
  if (registered) return registered.status === 'active';
  try {
    await registry.addKey(ACTOR, system.id, { jwk: key.jwk });
    return true;
  } catch (error) {
    if (error instanceof ConflictError) return false;
    throw error;
  }
}

/** Creates each system unless it exists, with a usable key file; returns their identities. */
async function ensureSystems(
  registry: Registry,
  dataDir: string,
  command: string,
  systems: ReadonlyArray<{ id: string; name: string; roles: Role[] }>,
  created: string[],
): Promise<DemoIdentity[]> {
  const identities: DemoIdentity[] = [];
  for (const demo of systems) {
    const keyFile = demoKeyFile(dataDir, demo.id);
    let system = await registry.getSystem(demo.id);
    if (!system) {
      system = await registry.createSystem(ACTOR, { ...demo, keys: [] });
      created.push(`system ${demo.id}`);
    }
    if (!(await keyUsable(registry, system, await keyInFile(keyFile)))) {
      const pair = await generateKeyPair('ES256');
      await writePrivateKeyFile(keyFile, pair.privateJwk, { overwrite: true });
      await registry.addKey(ACTOR, demo.id, { jwk: pair.publicJwk });
      created.push(`key for ${demo.id}`);
    }
    const shownFile = path.relative(process.cwd(), keyFile).startsWith('..')
      ? keyFile
      : path.relative(process.cwd(), keyFile);
    identities.push({
      systemId: demo.id,
      roles: demo.roles,
      keyFile,
      tokenCommand: `${command} token --system ${demo.id} --key ${shownFile}`,
    });
  }
  return identities;
}

/**
 * What the sample connectors need to answer: their departments, a `connector` system per department
 * with a key file, and a registration for the types each one holds.
 */
export async function bootstrapSampleConnectors(
  options: BootstrapDemoOptions,
): Promise<SampleConnectorIdentities> {
  const { registry, dataDir } = options;
  const created: string[] = [];
  for (const department of DEMO_DEPARTMENTS) {
    if ((await registry.ensureDepartment(ACTOR, department)).created)
      created.push(`department ${department.code}`);
  }
  const identities = await ensureSystems(
    registry,
    dataDir,
    options.command ?? 'npx silobridge',
    SAMPLE_CONNECTOR_SYSTEMS,
    created,
  );
  const registered = new Set((await registry.listRegistrations()).map((r) => r.department));
  for (const department of SAMPLE_DEPARTMENTS) {
    if (registered.has(department.code)) continue;
    try {
      await registry.insertRegistration(ACTOR, {
        department: department.code,
        certificateTypes: department.certificateTypes.map((certificateType) => ({
          certificateType,
          schemaVersion: 1,
        })),
      });
      created.push(`connector registration ${department.code}`);
    } catch (error) {
      // Another instance starting at the same moment registered it first.
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  const signers = new Map<string, DepartmentSigner>();
  for (const identity of identities) {
    const privateJwk = await readKeyFile(identity.keyFile);
    const signer = createDepartmentSigner({ systemId: identity.systemId, privateJwk });
    signers.set(signer.department, signer);
  }
  return {
    identities,
    created,
    signerFor(department) {
      const signer = signers.get(department);
      if (!signer) throw new Error(`no sample connector identity for department '${department}'`);
      return signer;
    },
  };
}

export async function bootstrapDemo(
  options: BootstrapDemoOptions,
): Promise<DemoBootstrapResult & SampleConnectorIdentities> {
  const { registry, dataDir } = options;
  const command = options.command ?? 'npx silobridge';
  const samples = await bootstrapSampleConnectors(options);
  const created = [...samples.created];
  const identities = await ensureSystems(registry, dataDir, command, DEMO_SYSTEMS, created);
  const width = Math.max(...identities.map((identity) => identity.systemId.length));
  const banner = [
    `Demo systems (private keys in ${path.dirname(identities[0]?.keyFile ?? dataDir)}, mode 0600):`,
    ...identities.map((identity) => `  ${identity.systemId.padEnd(width)}  ${identity.roles.join(', ')}`),
    'Get a token (valid 5 minutes) for a system, e.g. the approval workflow:',
    `  TOKEN=$(${identities[0]?.tokenCommand ?? ''})`,
    '',
  ].join('\n');
  return {
    identities: [...identities, ...samples.identities],
    created,
    banner,
    signerFor: samples.signerFor,
  };
}
