/**
 * The body of POST /v1/subscriptions: the record, named as a lookup names it (certificate type,
 * subject, purpose, optional fields), how long the case stays open (`endsAt`) and where notices go
 * (`delivery`: a webhook target an administrator registered for the calling system, or the system's
 * Server-Sent Events stream). Never a URL: the gateway calls only registered targets.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { LookupRequest } from '../access/lookup-terms.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { BadRequestError, invalidInput } from '../foundation/errors.js';
import { parseDateTime } from '../http/input-reader.js';
import { throwIfUnreadable } from '../http/json-body.js';
import { LOOKUP_REQUEST_SCHEMA } from '../lookups/lookup-request.js';

export const WEBHOOK_TARGET_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
/** A case stays open for months, not for ever: a subscription ends at most this far ahead. */
export const MAX_SUBSCRIPTION_DAYS = 366;

export type Delivery = { method: 'webhook'; target: string } | { method: 'stream' };

export interface SubscriptionRequest extends LookupRequest {
  endsAt: string;
  delivery: Delivery;
}

export const SUBSCRIPTION_REQUEST_SCHEMA = {
  type: 'object',
  description:
    'Subscribes to changes of one record for an open case. The record is named as in a lookup; the policy must allow the lookup, and it spends the rate as a lookup does.',
  required: [...LOOKUP_REQUEST_SCHEMA.required, 'endsAt', 'delivery'],
  additionalProperties: false,
  properties: {
    ...LOOKUP_REQUEST_SCHEMA.properties,
    endsAt: {
      type: 'string',
      maxLength: 64,
      description: `RFC 3339 date-time when the case closes and the subscription ends: in the future, at most ${MAX_SUBSCRIPTION_DAYS} days ahead.`,
    },
    delivery: {
      description:
        'Where notices go: `webhook` to a target registered for the calling system (PUT /v1/systems/{department}/{system}/webhook-targets/{name}), or `stream` to GET /v1/subscriptions/notices.',
      oneOf: [
        {
          type: 'object',
          required: ['method', 'target'],
          additionalProperties: false,
          properties: {
            method: { const: 'webhook' },
            target: { type: 'string', pattern: WEBHOOK_TARGET_NAME_PATTERN },
          },
        },
        {
          type: 'object',
          required: ['method'],
          additionalProperties: false,
          properties: { method: { const: 'stream' } },
        },
      ],
    },
  },
} as const;

const validateShape = new Ajv2020({ allErrors: true, strict: true }).compile<SubscriptionRequest>(
  SUBSCRIPTION_REQUEST_SCHEMA,
);

export function parseSubscriptionRequest(body: unknown, now = Date.now()): SubscriptionRequest {
  throwIfUnreadable(body);
  if (!validateShape(body)) {
    throw invalidInput('The subscription request', describeSchemaErrors(validateShape.errors));
  }
  const endsAt = parseDateTime(body.endsAt);
  const latest = now + MAX_SUBSCRIPTION_DAYS * 24 * 60 * 60_000;
  const problem =
    endsAt === undefined
      ? 'must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z'
      : 'reason' in endsAt
        ? endsAt.reason
        : endsAt.time.getTime() <= now
          ? 'must be in the future'
          : endsAt.time.getTime() > latest
            ? `must be at most ${MAX_SUBSCRIPTION_DAYS} days ahead`
            : undefined;
  if (problem) {
    throw new BadRequestError(`The subscription request is not valid: /endsAt ${problem}.`, [
      { pointer: '/endsAt', reason: problem },
    ]);
  }
  return body;
}
