/**
 * What department signatures cost per reply: the connector signing (one disclosure per field and an
 * ES256 JWS) and the gateway checking (key lookup, ES256 verification, one digest and one value
 * comparison per field), for a business licence of 14 fields.
 * Run: node --import tsx test/bench/department-signatures.ts [replies=2000]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { createProviderSignatures } from '../../gateway/lookups/provider-signatures.js';
import { signReply } from '../../gateway/protocol/department-signature.js';
import { credentialsOf, departmentIdentity } from '../support/department-keys.js';

const N = Number(process.argv[2] ?? 2000);
const identity = departmentIdentity('market-regulation');
const signatures = createProviderSignatures(credentialsOf(identity));
const examples = path.join(projectRoot, 'schemas/certificates/business-licence/1.examples.json');
const record = JSON.parse(readFileSync(examples, 'utf8')).valid[0].record as Record<string, unknown>;
const reply = {
  version: 1,
  lookupId: '0b6f0f5e-6c3f-4f57-9a36-4d0d2b0d7b61',
  certificateType: 'business-licence',
  schemaVersion: 1,
  outcome: 'found' as const,
  record,
  connector: { department: 'market-regulation', instanceId: 'bench' },
};

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

let cpu = process.cpuUsage();
let started = performance.now();
const signed: string[] = [];
for (let i = 0; i < N; i++)
  signed.push(JSON.stringify({ ...reply, ...(await signReply(identity.signer, reply)) }));
const sign = { wallMs: (performance.now() - started) / N, cpuMs: cpuMs(cpu) / N };

cpu = process.cpuUsage();
started = performance.now();
for (const text of signed) await signatures.verifyReply(JSON.parse(text), 'market-regulation');
const check = { wallMs: (performance.now() - started) / N, cpuMs: cpuMs(cpu) / N };

const ms = (value: number) => `${value.toFixed(3)} ms`;
console.log(
  `${N} replies of ${Object.keys(record).length} fields, one at a time (Node.js ${process.version})`,
);
console.log(`sign (connector):  ${ms(sign.wallMs)} wall, ${ms(sign.cpuMs)} CPU per reply`);
console.log(`check (gateway):   ${ms(check.wallMs)} wall, ${ms(check.cpuMs)} CPU per reply`);
