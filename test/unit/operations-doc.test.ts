/**
 * docs/operations.md documents every environment variable the gateway reads, and nothing it does
 * not: the list is compared with what loadConfig() really asks the environment for.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { configVariables } from '../support/config-variables.js';

const guide = readFileSync(path.join(projectRoot, 'docs', 'operations.md'), 'utf8');
const configuration = guide.split(/^## /m).find((part) => part.startsWith('Configuration')) ?? '';

/** The first-column names of the table under "## Configuration". */
function documentedVariables(): string[] {
  return [...configuration.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1] ?? '');
}

describe('docs/operations.md', () => {
  it('documents every variable the configuration reads, each once, and no other', () => {
    const documented = documentedVariables();
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...configVariables()].sort());
  });

  it('gives each variable a default and a meaning', () => {
    for (const row of configuration.split('\n').filter((line) => /^\| `[A-Z]/.test(line))) {
      const cells = row.split(' | ').map((cell) => cell.trim());
      expect(cells.length, row).toBeGreaterThanOrEqual(3);
      expect(cells[1], row).not.toBe('');
      expect((cells[2] ?? '').length, row).toBeGreaterThan(10);
    }
  });
});
