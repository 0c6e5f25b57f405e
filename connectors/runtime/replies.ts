/**
 * Builds, signs and sends lookup replies: to the request's reply topic, same key, correlation id
 * copied, with the department's signature and one disclosure per record field.
 */
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { type DepartmentSigner, signReply } from '../../gateway/protocol/department-signature.js';
import type { LookupReplyEnvelope, LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';
import { CORRELATION_HEADER } from '../../gateway/protocol/topics.js';
import type { CertificateRecord, LookupErrorCode } from './certificate-handler.js';

export type ReplyOutcome =
  | { outcome: 'found'; record: CertificateRecord }
  | { outcome: 'not-found' }
  | { outcome: 'error'; code: LookupErrorCode; message: string };

export interface ReplyContext {
  department: string;
  instanceId: string;
}

export function buildReply(
  request: LookupRequestEnvelope,
  schemaVersion: number,
  result: ReplyOutcome,
  context: ReplyContext,
): LookupReplyEnvelope {
  const base = {
    version: 1 as const,
    lookupId: request.lookupId,
    certificateType: request.certificateType,
    schemaVersion,
    connector: { department: context.department, instanceId: context.instanceId },
  };
  if (result.outcome === 'found') return { ...base, outcome: 'found', record: result.record };
  if (result.outcome === 'not-found') return { ...base, outcome: 'not-found' };
  return { ...base, outcome: 'error', error: { code: result.code, message: result.message } };
}

export async function sendReply(
  bus: Bus,
  replyTopic: string,
  request: IncomingMessage,
  reply: LookupReplyEnvelope,
  signer: DepartmentSigner,
): Promise<void> {
  const signed: LookupReplyEnvelope = { ...reply, ...(await signReply(signer, reply)) };
  await bus.publish(replyTopic, [
    {
      key: request.key,
      value: JSON.stringify(signed),
      headers: {
        // The gateway matches on this header; without one, the lookup id is the correlation id.
        [CORRELATION_HEADER]: request.headers[CORRELATION_HEADER] ?? reply.lookupId,
        'content-type': 'application/json',
      },
    },
  ]);
}
