/**
 * Checks that a reply or heartbeat was signed by the department it speaks for: a compact JWS (ES256)
 * made with an active key of one of that department's enabled `connector` systems in the registry,
 * whose claims equal what the message says (docs/protocol.md, "Signing replies and heartbeats").
 * A failure says why in words that carry no personal data, for the problem detail and the dead letter.
 */
import canonicalize from 'canonicalize';
import type { CredentialSource } from '../identity/credentials.js';
import {
  CHANGE_SIGNATURE_TYP,
  DEPARTMENT_SIGNATURE_ALGORITHM,
  type DecodedJws,
  type DepartmentKeyRef,
  disclosureMismatch,
  HEARTBEAT_SIGNATURE_TYP,
  openDepartmentSignature,
  REPLY_SIGNATURE_TYP,
  verifiesWith,
} from '../protocol/department-signature.js';

/** Why a signature was refused; the message is safe to show the caller and to log. */
export class SignatureRefusal extends Error {
  override readonly name = 'SignatureRefusal';
}

export interface VerifiedReply {
  /** `<system id>#<key id>` of the key that signed. */
  keyId: string;
  /** The compact JWS as received. */
  signature: string;
  /** Field -> disclosure, as received (found replies). */
  disclosures: Record<string, string>;
}

export interface ProviderSignatures {
  /** Resolves when `reply` (parsed JSON) is signed by `department`; rejects with a SignatureRefusal. */
  verifyReply(reply: Record<string, unknown>, department: string): Promise<VerifiedReply>;
  /** Resolves when the heartbeat is signed by the department it names; rejects with a SignatureRefusal. */
  verifyHeartbeat(heartbeat: Record<string, unknown>): Promise<void>;
  /**
   * Resolves with the signing key's id (`<system id>#<key id>`) when the change event is signed by the
   * department it names; rejects with a SignatureRefusal.
   */
  verifyChange(event: Record<string, unknown>): Promise<string>;
}

const same = (a: unknown, b: unknown) => canonicalize(a) === canonicalize(b);
const REPLY_FIELD_PROBLEMS = (mismatch: NonNullable<ReturnType<typeof disclosureMismatch>>) =>
  mismatch.problem === 'unreadable'
    ? mismatch.reason
    : mismatch.problem === 'digest'
      ? 'its disclosure does not match the signed digest'
      : "the disclosed value differs from the record's";
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function createProviderSignatures(credentials: CredentialSource): ProviderSignatures {
  /** Decodes the JWS and checks it against the department's registered keys. */
  async function check(jws: unknown, typ: string, department: string, what: string): Promise<DecodedJws> {
    if (jws === undefined || jws === null) throw new SignatureRefusal(`the ${what} is not signed`);
    let decoded: DecodedJws;
    let ref: DepartmentKeyRef;
    try {
      ({ decoded, key: ref } = openDepartmentSignature(jws, typ));
    } catch (error) {
      throw new SignatureRefusal((error as Error).message);
    }
    const kid = String(decoded.header.kid);
    if (ref.department !== department) {
      throw new SignatureRefusal(`signed with a key of department '${ref.department}', not '${department}'`);
    }
    const system = await credentials.credentialsOf(ref.systemId);
    if (!system) throw new SignatureRefusal(`signed for system '${ref.systemId}', which is not registered`);
    if (!system.enabled) throw new SignatureRefusal(`signed by system '${ref.systemId}', which is disabled`);
    if (!system.roles.includes('connector')) {
      throw new SignatureRefusal(`signed by system '${ref.systemId}', which lacks the connector role`);
    }
    const key = system.keys.get(ref.kid);
    if (!key) throw new SignatureRefusal(`system '${ref.systemId}' has no key '${ref.kid}'`);
    if (key.retired) throw new SignatureRefusal(`key '${kid}' is retired`);
    if (key.alg !== DEPARTMENT_SIGNATURE_ALGORITHM) {
      throw new SignatureRefusal(
        `key '${kid}' is registered for ${key.alg}; replies are signed with ES256 keys`,
      );
    }
    if (!(await verifiesWith(decoded, key.publicKey))) {
      throw new SignatureRefusal(`the signature does not verify with key '${kid}'`);
    }
    if (!isObject(decoded.payload))
      throw new SignatureRefusal("the signature's payload is not a JSON object");
    return decoded;
  }

  /** A message signed whole: the JWS payload is the message without its `signature` member. */
  async function checkWhole(message: Record<string, unknown>, typ: string, what: string) {
    const { signature, ...stated } = message;
    const department = typeof stated.department === 'string' ? stated.department : '';
    const decoded = await check(signature, typ, department, what);
    if (!same(decoded.payload, stated))
      throw new SignatureRefusal(`the signed ${what} differs from the one sent`);
    return decoded;
  }

  return {
    async verifyReply(reply, department) {
      const { header, payload } = await check(reply.signature, REPLY_SIGNATURE_TYP, department, 'reply');
      const claims = payload as Record<string, unknown>;
      const connector = isObject(reply.connector) ? reply.connector : {};
      const stated = {
        lookupId: reply.lookupId,
        certificateType: reply.certificateType,
        schemaVersion: reply.schemaVersion,
        outcome: reply.outcome,
        department: connector.department,
      };
      for (const [name, value] of Object.entries(stated)) {
        if (!same(claims[name], value))
          throw new SignatureRefusal(`the signed ${name} differs from the reply's`);
      }
      if (reply.outcome === 'error') {
        const code = isObject(reply.error) ? reply.error.code : undefined;
        if (!same(claims.error, code))
          throw new SignatureRefusal("the signed error code differs from the reply's");
      }
      const disclosures: Record<string, string> = {};
      if (reply.outcome === 'found') {
        const record = isObject(reply.record) ? reply.record : {};
        const digests = isObject(claims.digests) ? claims.digests : {};
        const given = isObject(reply.disclosures) ? reply.disclosures : {};
        const fields = Object.keys(record);
        if (!same(Object.keys(digests).sort(), [...fields].sort())) {
          throw new SignatureRefusal("the signed digests do not name exactly the record's fields");
        }
        for (const field of fields) {
          const disclosure = given[field];
          const mismatch = disclosureMismatch(field, disclosure, digests[field], record[field]);
          if (mismatch) throw new SignatureRefusal(`field '${field}': ${REPLY_FIELD_PROBLEMS(mismatch)}`);
          disclosures[field] = disclosure as string;
        }
      }
      return { keyId: String(header.kid), signature: reply.signature as string, disclosures };
    },

    async verifyHeartbeat(heartbeat) {
      await checkWhole(heartbeat, HEARTBEAT_SIGNATURE_TYP, 'heartbeat');
    },

    async verifyChange(event) {
      const { header } = await checkWhole(event, CHANGE_SIGNATURE_TYP, 'change event');
      return String(header.kid);
    },
  };
}
