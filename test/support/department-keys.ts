/**
 * Department signing identities for tests that run connectors without a registry: a fresh ES256 key
 * per department's `connector` system, a signer for the connector runtime, and a CredentialSource that
 * knows those systems, so the gateway's signature checks run for real.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SAMPLE_DEPARTMENTS } from '../../connectors/samples/sample-departments.js';
import type { SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import type { CredentialSource, SystemCredentials } from '../../gateway/identity/credentials.js';
import {
  createProviderSignatures,
  type ProviderSignatures,
} from '../../gateway/lookups/provider-signatures.js';
import {
  createDepartmentSigner,
  type DepartmentSigner,
} from '../../gateway/protocol/department-signature.js';
import type { ServedCertificateType } from '../../gateway/protocol/envelopes.js';
import { demoKeyFile, sampleConnectorSystem } from '../../gateway/registry/demo-bootstrap.js';

export interface DepartmentIdentity {
  systemId: string;
  kid: string;
  signer: DepartmentSigner;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  credentials: SystemCredentials;
}

export function departmentIdentity(department: string, system = 'connector'): DepartmentIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `k-${Math.random().toString(36).slice(2, 10)}`;
  const systemId = `${department}/${system}`;
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256' };
  return {
    systemId,
    kid,
    signer: createDepartmentSigner({ systemId, privateJwk }),
    privateJwk,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256' },
    credentials: {
      systemId,
      department,
      roles: ['connector'],
      enabled: true,
      keys: new Map([[kid, { kid, alg: 'ES256', publicKey, retired: false }]]),
    },
  };
}

/** Identities created on first use, one per department. */
export interface DepartmentIdentities extends CredentialSource {
  of(department: string): DepartmentIdentity;
  signerFor(department: string): DepartmentSigner;
  signatures: ProviderSignatures;
}

export function departmentIdentities(): DepartmentIdentities {
  const byDepartment = new Map<string, DepartmentIdentity>();
  const of = (department: string) => {
    let identity = byDepartment.get(department);
    if (!identity) {
      identity = departmentIdentity(department);
      byDepartment.set(department, identity);
    }
    return identity;
  };
  const source: CredentialSource = {
    async credentialsOf(systemId) {
      return [...byDepartment.values()].find((identity) => identity.systemId === systemId)?.credentials;
    },
  };
  return {
    ...source,
    of,
    signerFor: (department) => of(department).signer,
    signatures: createProviderSignatures(source),
  };
}

/** Every provider department registered for all its catalog types, at their latest schema version. */
export function registeredAsInCatalog(catalog: Pick<SchemaCatalog, 'list'>) {
  return {
    async registrationOf(
      department: string,
    ): Promise<{ certificateTypes: ServedCertificateType[] } | undefined> {
      const certificateTypes = catalog
        .list()
        .filter((type) => type.provider === department)
        .map((type) => ({ certificateType: type.certificateType, schemaVersion: type.latestVersion }));
      return certificateTypes.length > 0 ? { certificateTypes } : undefined;
    },
  };
}

/** Each named type registered (schema version 1), whichever department asks. */
export function registeredTypes(...certificateTypes: string[]) {
  const served = certificateTypes.map((certificateType) => ({ certificateType, schemaVersion: 1 }));
  return { registrationOf: async (_department: string) => ({ certificateTypes: served }) };
}

/**
 * For tests of other stages (audit, policy) whose fake replies are not signed: takes every reply as
 * signed. Tests of the signature checks themselves use `departmentIdentities().signatures`.
 */
export const signaturesNotChecked: Pick<ProviderSignatures, 'verifyReply'> = {
  verifyReply: async () => ({ keyId: 'test/connector#unchecked', signature: 'unchecked', disclosures: {} }),
};

/**
 * Signers for the sample connectors of a gateway started with demo identities: the keys the demo
 * bootstrap wrote to `<dataDir>/demo-keys/<department>.connector.jwk`.
 */
export async function demoConnectorSigners(
  dataDir: string,
): Promise<(department: string) => DepartmentSigner> {
  const signers = new Map<string, DepartmentSigner>();
  for (const { code } of SAMPLE_DEPARTMENTS) {
    const systemId = sampleConnectorSystem(code);
    const privateJwk = JSON.parse(await readFile(demoKeyFile(dataDir, systemId), 'utf8')) as unknown;
    signers.set(code, createDepartmentSigner({ systemId, privateJwk }));
  }
  return (department) => {
    const signer = signers.get(department);
    if (!signer) throw new Error(`no demo connector key for ${department}`);
    return signer;
  };
}

/** A registry that knows exactly these identities' systems. */
export function credentialsOf(...identities: DepartmentIdentity[]): CredentialSource {
  return {
    async credentialsOf(systemId) {
      return identities.find((identity) => identity.systemId === systemId)?.credentials;
    },
  };
}
