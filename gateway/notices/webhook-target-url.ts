/**
 * A webhook target's URL, as an administrator registers it (PUT /v1/systems/{dept}/{system}/webhook-
 * targets/{name}): absolute http or https, no credentials, no fragment. What logs and the audit log
 * show of it leaves the query out (a target may carry a secret there).
 */
import { BadRequestError } from '../foundation/errors.js';
import { throwIfUnreadable } from '../http/json-body.js';

export const WEBHOOK_TARGET_SCHEMA = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: {
      type: 'string',
      maxLength: 2048,
      description:
        'An absolute http or https URL without user name, password or fragment. Notices are POSTed to it; redirects are not followed.',
    },
  },
} as const;

/** The URL as the gateway will call it, or a 400 saying what is wrong with it. */
export function parseWebhookTargetUrl(body: unknown): string {
  throwIfUnreadable(body);
  const refuse = (reason: string) =>
    new BadRequestError(`The webhook target is not valid: /url ${reason}.`, [{ pointer: '/url', reason }]);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw refuse('is required');
  const { url, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new BadRequestError(
      `The webhook target is not valid: unknown member(s) ${unknown.join(', ')}.`,
      unknown.map((name) => ({ pointer: `/${name}`, reason: 'is not a member of a webhook target' })),
    );
  }
  if (typeof url !== 'string') throw refuse('must be a string');
  if (url.length > 2048) throw refuse('must be at most 2048 characters');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse('must be an absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw refuse('must be http or https');
  if (parsed.username || parsed.password) throw refuse('must not hold a user name or password');
  if (parsed.hash) throw refuse('must not have a fragment');
  // As the gateway will call it: percent-encoding can make it longer than what was sent.
  if (parsed.href.length > 2048) throw refuse('must be at most 2048 characters once percent-encoded');
  return parsed.href;
}

/** The URL without its query, which may hold a secret: what the audit log and logs show. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}${parsed.search ? '?…' : ''}`;
}
