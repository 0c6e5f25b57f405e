/**
 * Change notices (gateway/notices/, docs/notices.md): subscriptions, the event stream, webhook targets
 * and the demo's sample changes. Request bodies are the schemas the gateway validates with; the notice
 * is described once and used for the webhook body and the stream's events alike.
 */
import { SAMPLE_CHANGE_SCHEMA } from '../demo/sample-change-routes.js';
import { SUBSCRIPTION_REQUEST_SCHEMA } from '../notices/subscription-request.js';
import { WEBHOOK_TARGET_SCHEMA } from '../notices/webhook-target-url.js';
import {
  type JsonObject,
  json,
  LOCATION,
  operation,
  pathParameter,
  queryParameter,
} from './openapi-operations.js';
import { systemPath } from './openapi-paths-registry.js';

const string = { type: 'string' };
const dateTime = { type: 'string', format: 'date-time' };
const targetName = pathParameter('name', 'The target’s name, e.g. `case-system`.', {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
});
const subscriptionId = pathParameter('id', 'The subscription id.', { type: 'string', format: 'uuid' });
const DELIVERY_STATES = ['pending', 'delivered', 'dead-lettered', 'denied', 'cancelled'];

const subscription: JsonObject = {
  type: 'object',
  required: [
    'id',
    'requester',
    'certificateType',
    'provider',
    'purpose',
    'fields',
    'delivery',
    'createdAt',
    'endsAt',
    'cancelledAt',
    'state',
  ],
  description: 'A subscription; the subject is kept only as keyed hashes and never shown.',
  properties: {
    id: { type: 'string', format: 'uuid' },
    requester: { type: 'object', properties: { department: string, system: string } },
    certificateType: string,
    provider: string,
    purpose: {
      type: 'object',
      properties: { matter: string, caseRef: string, officer: string },
    },
    fields: { type: ['array', 'null'], items: string, description: 'Asked for; null: as the policy grants.' },
    delivery: SUBSCRIPTION_REQUEST_SCHEMA.properties.delivery as unknown as JsonObject,
    createdAt: dateTime,
    endsAt: dateTime,
    cancelledAt: { type: ['string', 'null'], format: 'date-time' },
    state: { enum: ['open', 'cancelled', 'ended'] },
    deliveries: {
      type: 'object',
      description: 'With GET /v1/subscriptions/{id}: its notices by delivery state.',
      properties: Object.fromEntries(DELIVERY_STATES.map((state) => [state, { type: 'integer' }])),
    },
  },
};

export const CHANGE_NOTICE_SCHEMA: JsonObject = {
  type: 'object',
  description:
    'One change of a record, for one subscriber: the webhook request body, and each stream event’s data. Deduplicate on `noticeId` (the same on every retry). Check `signature`: a compact JWS (ES256, typ `silobridge-change-notice+jws`, keys at /.well-known/jwks.json) whose payload is this object without `signature`.',
  required: [
    'noticeId',
    'subscriptionId',
    'changeId',
    'certificateType',
    'provider',
    'subject',
    'change',
    'effectiveAt',
    'fields',
    'purpose',
    'providerKeyId',
    'sentAt',
    'signature',
  ],
  properties: {
    noticeId: string,
    subscriptionId: { type: 'string', format: 'uuid' },
    changeId: { type: 'string', format: 'uuid' },
    certificateType: string,
    provider: string,
    subject: {
      type: 'object',
      additionalProperties: string,
      description: 'Of the record’s identifiers, only those the subscription named.',
    },
    change: { enum: ['revoked', 'expired', 'amended'] },
    effectiveAt: dateTime,
    fields: {
      type: 'object',
      description: 'The changed fields the subscriber’s policy grants now, masked as in a lookup.',
    },
    purpose: { type: 'object', properties: { matter: string, caseRef: string } },
    providerKeyId: { type: 'string', description: 'The department key that signed the change event.' },
    sentAt: dateTime,
    signature: string,
  },
};

const target: JsonObject = {
  type: 'object',
  required: ['name', 'url', 'createdAt', 'createdBy'],
  properties: { name: string, url: string, createdAt: dateTime, createdBy: string },
};

const OWNER = 'the subscribing system itself';
const SUBSCRIPTION_NOT_FOUND = { 404: ['subscription-not-found'] };

export function noticePaths(): JsonObject {
  return {
    '/v1/subscriptions': {
      post: operation({
        operationId: 'subscribeToChanges',
        audited: true,
        summary: 'Subscribe to changes of a record',
        description:
          'For an open case: notices when the record is revoked, expires or is amended, until `endsAt`. Allowed exactly when the lookup it names is (same policy, and it spends the rate as a lookup does); the policy is checked again at every delivery, without spending the rate. Notices go to a webhook target an administrator registered for the calling system, never to a URL from the body, or to the event stream.',
        tag: 'notices',
        access: { roles: ['lookup'] },
        body: SUBSCRIPTION_REQUEST_SCHEMA as unknown as JsonObject,
        responses: { 201: json('Subscribed (audited).', subscription, LOCATION) },
        problems: {
          400: [
            'invalid-request',
            'unknown-certificate-type',
            'invalid-subject',
            'unknown-field',
            'webhook-target-not-registered',
          ],
          403: ['access-denied'],
          429: ['rate-limited'],
        },
      }),
      get: operation({
        operationId: 'listSubscriptions',
        summary: 'The calling system’s subscriptions',
        tag: 'notices',
        access: { roles: ['lookup'] },
        parameters: [queryParameter('state', '`open` (default) or `all`.', { enum: ['open', 'all'] })],
        responses: {
          200: json('Newest first.', {
            type: 'object',
            required: ['subscriptions'],
            properties: { subscriptions: { type: 'array', items: subscription } },
          }),
        },
        problems: { 400: ['invalid-request'] },
      }),
    },
    '/v1/subscriptions/notices': {
      get: operation({
        operationId: 'streamChangeNotices',
        summary: 'The calling system’s notices as Server-Sent Events',
        description:
          'Notices of subscriptions with `delivery.method` `stream`, as `change-notice` events whose data is a notice and whose id orders them. Reconnect with `Last-Event-ID` to get every stream notice after it again (at least once). A comment line every 15 s keeps the stream open.',
        tag: 'notices',
        access: { roles: ['lookup'] },
        parameters: [
          {
            name: 'Last-Event-ID',
            in: 'header',
            required: false,
            description: 'The id of the last event received.',
            schema: { type: 'string', pattern: '^[0-9]{1,18}$' },
          },
        ],
        responses: {
          200: {
            description: 'An endless stream of `change-notice` events (text/event-stream).',
            content: {
              'text/event-stream': {
                schema: { type: 'string' },
                example: 'id: 42\nevent: change-notice\ndata: {...}\n\n',
              },
            },
          },
        },
        problems: { 400: ['invalid-request'] },
      }),
    },
    '/v1/subscriptions/{id}': {
      get: operation({
        operationId: 'getSubscription',
        summary: 'A subscription and its deliveries',
        tag: 'notices',
        access: { roles: ['audit', 'admin'], self: OWNER },
        parameters: [subscriptionId],
        responses: { 200: json('The subscription, with `deliveries`.', subscription) },
        problems: SUBSCRIPTION_NOT_FOUND,
      }),
      delete: operation({
        operationId: 'cancelSubscription',
        audited: true,
        summary: 'Cancel a subscription (the case closed)',
        description: 'Notices not yet delivered are not delivered.',
        tag: 'notices',
        access: { roles: ['admin'], self: OWNER },
        parameters: [subscriptionId],
        responses: { 204: { description: 'Cancelled (audited).' } },
        problems: { ...SUBSCRIPTION_NOT_FOUND, 409: ['subscription-not-open'] },
      }),
    },
    '/v1/systems/{department}/{system}/webhook-targets': {
      get: operation({
        operationId: 'listWebhookTargets',
        summary: 'Where a system’s notices may be sent',
        tag: 'notices',
        access: { roles: ['admin', 'audit'], self: 'the system itself' },
        parameters: systemPath,
        responses: {
          200: json('By name.', {
            type: 'object',
            required: ['targets'],
            properties: { targets: { type: 'array', items: target } },
          }),
        },
        problems: { 404: ['system-not-found'] },
      }),
    },
    '/v1/systems/{department}/{system}/webhook-targets/{name}': {
      put: operation({
        operationId: 'putWebhookTarget',
        audited: true,
        summary: 'Register or replace a webhook target',
        description:
          'Notices are POSTed to the URL (JSON, redirects not followed, 10 s to answer, 2xx = delivered; otherwise retried with exponential backoff, then dead-lettered). The audit log records the URL without its query.',
        tag: 'notices',
        access: { roles: ['admin'] },
        parameters: [...systemPath, targetName],
        body: WEBHOOK_TARGET_SCHEMA as unknown as JsonObject,
        responses: {
          200: json('Replaced (audited).', target, LOCATION),
          201: json('Registered (audited).', target, LOCATION),
        },
        problems: { 400: ['invalid-request'], 404: ['system-not-found'] },
      }),
      delete: operation({
        operationId: 'removeWebhookTarget',
        audited: true,
        summary: 'Remove a webhook target',
        tag: 'notices',
        access: { roles: ['admin'] },
        parameters: [...systemPath, targetName],
        responses: { 204: { description: 'Removed (audited).' } },
        problems: {
          400: ['invalid-request'],
          404: ['system-not-found', 'webhook-target-not-found'],
          409: ['webhook-target-in-use'],
        },
      }),
    },
    '/v1/sample-connectors/changes': {
      post: operation({
        operationId: 'changeSampleRecord',
        summary: 'Change a sample record (embedded demo only)',
        description:
          'Only while the sample connectors run inside the gateway: the sample department changes the record (e.g. revokes a licence) and its connector publishes the signed change event, as a real department’s would.',
        tag: 'notices',
        access: { roles: ['admin'] },
        body: SAMPLE_CHANGE_SCHEMA as unknown as JsonObject,
        responses: {
          202: json('Published: the change event (docs/protocol.md, "Change events").', { type: 'object' }),
        },
        problems: {
          400: ['invalid-request', 'unknown-certificate-type', 'invalid-sample-change'],
          404: ['record-not-found'],
        },
      }),
    },
  };
}
