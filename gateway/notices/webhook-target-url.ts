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

/**
 * Ports the Fetch standard's "bad port" list blocks (https://fetch.spec.whatwg.org/#port-blocking):
 * Node's fetch, which delivers notices, refuses to call them, so a target on one could never be
 * reached. Refused when the target is registered, not found out at the first notice.
 */
const BLOCKED_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

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
  if (parsed.port && BLOCKED_PORTS.has(Number(parsed.port))) {
    throw refuse(
      `must not use port ${parsed.port}, which HTTP clients refuse to call (the Fetch standard's bad ports)`,
    );
  }
  // As the gateway will call it: percent-encoding can make it longer than what was sent.
  if (parsed.href.length > 2048) throw refuse('must be at most 2048 characters once percent-encoded');
  return parsed.href;
}

/** The URL without its query, which may hold a secret: what the audit log and logs show. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}${parsed.search ? '?…' : ''}`;
}
