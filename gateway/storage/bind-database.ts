/**
 * Turns store functions that take the database first into a service's methods with it bound, so a
 * capability's routes call a service and never hold the database themselves.
 */
import type { Database } from './database.js';

export function bindDatabase<A extends unknown[], T>(
  database: Database,
  operation: (database: Database, ...args: A) => T,
): (...args: A) => T {
  return (...args) => operation(database, ...args);
}

/** A store function's type without its leading database parameter: a service method's type. */
export type WithoutDatabase<F> = F extends (database: never, ...args: infer A) => infer T
  ? (...args: A) => T
  : never;
