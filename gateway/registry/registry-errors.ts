/** Registry problems beyond the shared hierarchy: conflicts with what is already registered. */
import { GatewayError, type ProblemExtensions } from '../foundation/errors.js';

export class ConflictError extends GatewayError {
  constructor(detail: string, problem: string, extensions: ProblemExtensions = {}) {
    super(problem, 409, 'Conflict with the registry', detail, extensions);
  }
}

/** PostgreSQL unique_violation: two writers raced past the same existence check. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
