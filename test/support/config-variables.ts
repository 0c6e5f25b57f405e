/**
 * Every environment variable gateway/foundation/config.ts reads, found by watching what loadConfig() asks an
 * environment for (not by a list kept by hand, which would drift from the code).
 */
import { loadConfig } from '../../gateway/foundation/config.js';

export function configVariables(): Set<string> {
  const read = new Set<string>();
  const watching = new Proxy({} as Record<string, string | undefined>, {
    get(_target, name) {
      if (typeof name === 'string') read.add(name);
      return undefined;
    },
  });
  loadConfig(watching);
  return read;
}
