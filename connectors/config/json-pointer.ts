/**
 * JSON pointers (RFC 6901) into an HTTP API's answer: where a configured connector finds the record
 * (`/data`) and each of its fields (`/holder/name`). A pointer that leads nowhere yields undefined.
 */

/** The value at `pointer` in `document`; `''` is the document itself. */
export function valueAt(document: unknown, pointer: string): unknown {
  if (pointer === '') return document;
  let node = document;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
      node = node[Number(key)];
    } else if (typeof node === 'object' && node !== null && Object.hasOwn(node, key)) {
      node = (node as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return node;
}
