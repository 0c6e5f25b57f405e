/** Registry problems beyond the shared hierarchy: conflicts with what is already registered. */
import { ConflictError as Conflict, type ProblemExtensions } from '../foundation/errors.js';

export class ConflictError extends Conflict {
  constructor(detail: string, problem: string, extensions: ProblemExtensions = {}) {
    super(detail, problem, extensions, 'Conflict with the registry');
  }
}

/** PostgreSQL unique_violation: two writers raced past the same existence check. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
