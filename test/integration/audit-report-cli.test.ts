/**
 * `silobridge audit report`: an officer at a terminal asks a real gateway (PostgreSQL, in-process bus
 * with the sample connectors) who accessed a subject's records, as the demo audit system. The
 * identifier comes from standard input, never from the command line.
 */
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerAuditCommands } from '../../gateway/cli/audit-commands.js';
import type { RunningGateway } from '../../gateway/gateway.js';
import { demoKeyFile } from '../../gateway/registry/demo-bootstrap.js';
import { TEST_MATTER } from '../support/gateway-auth.js';
import { lookupSubject } from '../support/lookup-fixtures.js';
import { createTestGatewayEnvironment, type TestGatewayEnvironment } from '../support/test-gateway.js';

const AUDIT_SYSTEM = 'data-office/audit-console';
const subject = lookupSubject('resident-id-card');
const [identifierType, identifier] = Object.entries(subject)[0] as [string, string];

let env: TestGatewayEnvironment;
let gateway: RunningGateway;

beforeAll(async () => {
  env = await createTestGatewayEnvironment('audit-report-cli');
  gateway = await env.start('audit-report-cli', { KAFKA_BROKERS: '' });
  const api = await env.client(gateway);
  await vi.waitFor(
    async () => {
      const response = await api.post('/v1/lookups', {
        certificateType: 'resident-id-card',
        subject,
        // Whatever a caller sends ends up in the report: it must not rewrite the officer's terminal.
        purpose: { matter: TEST_MATTER, caseRef: 'CASE-7\u001b[2J', officer: 'officer-042' },
      });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
    },
    { timeout: 20_000, interval: 200 },
  );
});
afterAll(async () => {
  await env?.cleanup();
});

async function report(stdin: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let exitCode = 0;
  const program = new Command('silobridge').exitOverride();
  registerAuditCommands(program, {
    stdin: Readable.from([stdin]),
    stdout: { write: (text: string) => out.push(text) } as unknown as NodeJS.WritableStream,
    stderr: { write: (text: string) => err.push(text) } as unknown as NodeJS.WritableStream,
    setExitCode: (code) => {
      exitCode = code;
    },
  });
  await program.parseAsync(
    [
      'audit',
      'report',
      '--gateway',
      gateway.url,
      '--system',
      AUDIT_SYSTEM,
      '--key',
      demoKeyFile(env.dataDir, AUDIT_SYSTEM),
      ...args,
    ],
    { from: 'user' },
  );
  return { out: out.join(''), err: err.join(''), exitCode };
}

describe('silobridge audit report', () => {
  it('lists who accessed the subject, reading the identifier from standard input', async () => {
    // Until the sample connectors announce themselves, lookups fail (503): only the granted one counts here.
    const { out, err, exitCode } = await report(
      `${identifier}\n`,
      '--subject',
      identifierType,
      '--outcome',
      'granted',
    );
    expect(err, out).toBe('');
    expect(exitCode).toBe(0);
    expect(out).toMatch(/^time\s+requester\s+matter\s+case\s+officer\s+certificate\s+provider\s+outcome/);
    expect(out).toContain('service-centre/approval');
    expect(out).toContain(TEST_MATTER);
    expect(out).toContain('resident-id-card');
    expect(out).toMatch(/CASE-7\?\[2J/);
    expect(out).not.toContain('\u001b');
    expect(out, out).toMatch(/1 access\(es\)\n$/);

    const json = await report(
      `${identifier}\n`,
      '--subject',
      identifierType,
      '--outcome',
      'granted',
      '--json',
    );
    expect(JSON.parse(json.out).accesses).toEqual([
      expect.objectContaining({
        matter: TEST_MATTER,
        certificateType: 'resident-id-card',
        outcome: 'granted',
      }),
    ]);
  });

  it('is recorded in the audit log like a report from the console', async () => {
    const officer = await env.client(gateway, AUDIT_SYSTEM);
    const { body } = await officer.get('/v1/audit/events?kind=audit-access&limit=50');
    const reports = body.events.filter(
      (row: { event: { action: string; actor: string } }) =>
        row.event.action === 'subject-report' && row.event.actor === AUDIT_SYSTEM,
    );
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(body)).not.toContain(identifier);
  });

  it('says what is wrong: no identifier, a bad option, a bad date', async () => {
    const missing = await report('', '--subject', identifierType);
    expect(missing.exitCode).toBe(2);
    expect(missing.err).toMatch(/no value for residentIdNumber on standard input/);

    const unknown = await report('someone else\n', '--subject', identifierType);
    expect(unknown.exitCode).toBe(0);
    expect(unknown.out).toMatch(/0 access\(es\)\n$/);

    const badDate = await report(`${identifier}\n`, '--subject', identifierType, '--from', 'yesterday');
    expect(badDate.exitCode).toBe(2);
    expect(badDate.err).toMatch(/400 .*\n {2}\/from: /);

    const flag = await report(`${identifier}\n`, '--subject', identifier);
    expect(flag.exitCode).toBe(2);
    expect(flag.err).toMatch(/--subject takes identifier types/);
  });
});
