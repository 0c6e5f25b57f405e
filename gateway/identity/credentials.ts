/**
 * What authentication needs to know about a system: its department, its roles and its keys, as the
 * registry says now. The registry implements `CredentialSource`; tests can hand in a fixed map.
 */
import type { KeyObject } from 'node:crypto';
import type { Role } from '../access/caller.js';
import type { SigningAlgorithm } from './system-keys.js';

export interface RegisteredKey {
  kid: string;
  alg: SigningAlgorithm;
  publicKey: KeyObject;
  retired: boolean;
}

export interface SystemCredentials {
  systemId: string;
  department: string;
  roles: Role[];
  enabled: boolean;
  keys: ReadonlyMap<string, RegisteredKey>;
}

export interface CredentialSource {
  /** The system's current registration, or undefined if no such system is registered. */
  credentialsOf(systemId: string): Promise<SystemCredentials | undefined>;
}
