/**
 * Table and column names come from configuration, not from lookups, but they are still spliced into
 * SQL text (placeholders cannot stand for identifiers). Only plain lower-case names are accepted, and
 * they are always quoted, so a typo fails at start-up instead of becoming a different query.
 */

const NAME = /^[a-z_][a-z0-9_]*$/;
const MAX_NAME_LENGTH = 63;

/**
 * Quotes a column name; throws when it is not a plain lower-case identifier. `where` names the setting
 * it came from, so the message points at the line of configuration to fix.
 */
export function quoteColumn(name: string, where: string, kind = 'column'): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > MAX_NAME_LENGTH) {
    throw new Error(
      `${where}: invalid ${kind} name ${JSON.stringify(name)}; use lower-case letters, digits and _ (not starting with a digit), at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  return `"${name}"`;
}

/** Quotes `table` or `schema.table`. */
export function quoteTable(name: string, where = 'table'): string {
  if (typeof name !== 'string') throw new Error(`${where}: invalid table name; expected a string`);
  const parts = name.split('.');
  if (parts.length > 2)
    throw new Error(`${where}: invalid table name ${JSON.stringify(name)}; expected table or schema.table`);
  return parts
    .map((part, index) => quoteColumn(part, where, parts.length === 2 && index === 0 ? 'schema' : 'table'))
    .join('.');
}
