/**
 * Errors whose outcome is already in the audit log (a lookup denial recorded as a `lookup` event, a
 * refused token recorded by the authenticator), so the error middleware that audits every 401, 403
 * and 429 (gateway/identity/refusal-audit.ts) does not record them twice.
 */
const recorded = new WeakSet<object>();

export function markAudited(error: unknown): void {
  if (typeof error === 'object' && error !== null) recorded.add(error);
}

export function isAudited(error: unknown): boolean {
  return typeof error === 'object' && error !== null && recorded.has(error);
}
