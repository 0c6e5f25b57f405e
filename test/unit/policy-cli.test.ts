import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerPolicyCommands } from '../../gateway/cli/policy-commands.js';
import { policiesDir } from '../../gateway/foundation/paths.js';

const dirs: string[] = [];
afterEach(async () => {
  process.exitCode = undefined;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('silobridge').exitOverride();
  registerPolicyCommands(program, { out: (t) => void out.push(t), err: (t) => void err.push(t) });
  process.exitCode = undefined;
  await program.parseAsync(args, { from: 'user' });
  const exitCode = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { out: out.join(''), err: err.join(''), exitCode };
}

describe('silobridge policy check', () => {
  it('accepts the sample policies, checked against the certificate schemas', async () => {
    const result = await run('policy', 'check', policiesDir);
    expect(result).toMatchObject({ exitCode: 0, err: '' });
    expect(result.out).toMatch(/^ok: 5 policy file\(s\), 12 grant\(s\), revision [0-9a-f]{16}\n$/);
  });

  it('reports every problem with file, line and pointer, and exits 1', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'silobridge-check-'));
    dirs.push(dir);
    const file = path.join(dir, 'tax.yaml');
    await writeFile(
      file,
      [
        'version: 1',
        'id: tax',
        'title: 税务局',
        'requester: { department: tax, systems: [civil-affairs/welfare] }',
        'validFrom: 2026-13-01',
        'rateLimit: { requestsPerMinute: 10 }',
        'grants:',
        '  - id: T1',
        '    certificateType: business-licence',
        '    matters: [{ code: TX-01, name: 税务登记 }]',
        '    fields: [name, taxNumber]',
        '    legalBasis: 《税收征收管理法》',
      ].join('\n'),
    );
    const schemaProblem = await run('policy', 'check', file);
    expect(schemaProblem.exitCode).toBe(1);
    expect(schemaProblem.err).toContain('tax.yaml:5 /validFrom: must match format "date"');

    const text = [
      'version: 1',
      'id: tax',
      'title: 税务局',
      'requester: { department: tax, systems: [civil-affairs/welfare] }',
      'validFrom: 2026-01-01',
      'rateLimit: { requestsPerMinute: 10 }',
      'grants:',
      '  - id: T1',
      '    certificateType: business-licence',
      '    matters: [{ code: TX-01, name: 税务登记 }]',
      '    fields: [name, taxNumber]',
      '    legalBasis: 《税收征收管理法》',
    ].join('\n');
    await writeFile(file, text);
    const semantic = await run('policy', 'check', file);
    expect(semantic.exitCode).toBe(1);
    expect(semantic.err).toContain(
      "tax.yaml:4 /requester/systems/0: system 'civil-affairs/welfare' is not a system of department 'tax'",
    );
    expect(semantic.err).toContain(
      "tax.yaml:11 /grants/0/fields/1: 'business-licence' records have no field 'taxNumber'",
    );
    expect(semantic.err).toContain('2 problem(s); nothing would be loaded.');
    expect((await run('policy', 'check', '--no-schemas', file)).err).not.toContain('taxNumber');
  });
});

describe('silobridge policy effective', () => {
  it('prints what a system may see under the policies', async () => {
    const result = await run('policy', 'effective', 'civil-affairs/marriage-registry', '--at', '2027-06-01');
    expect(result.exitCode).toBe(0);
    const view = JSON.parse(result.out) as { grants: Array<{ ruleId: string; status: string }> };
    expect(view.grants).toEqual([
      expect.objectContaining({ ruleId: 'civil-affairs-marriage-registration/CA-ID', status: 'in-force' }),
    ]);
    const later = JSON.parse((await run('policy', 'effective', 'civil-affairs', '--at', '2029-06-01')).out);
    expect(later.grants.map((g: { status: string }) => g.status)).toEqual(['expired', 'expired', 'expired']);
  });
});
