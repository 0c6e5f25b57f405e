/**
 * A change event written from the docs alone: the kcat, jq and openssl snippet of docs/protocol.md
 * section 15.3, run as the doc says (after the set-up of connectors/examples/kcat-connector.sh, from
 * its start to the end of `jws()`), publishes a signed revocation on the real broker; the gateway,
 * on PostgreSQL, takes it in and delivers the notice to the subscribed approval system's webhook,
 * naming only the identifier that system subscribed with.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { demoKeyFile, sampleConnectorSystem } from '../../gateway/registry/demo-bootstrap.js';
import { TEST_MATTER } from '../support/gateway-auth.js';
import { type NoticeReceiver, startNoticeReceiver } from '../support/notice-receiver.js';
import {
  createTestGatewayEnvironment,
  OPERATOR,
  type TestGatewayEnvironment,
} from '../support/test-gateway.js';

const run = promisify(execFile);
const prefix = `kcatchange${randomBytes(4).toString('hex')}`;
const SPOUSE = '35010219850101123X';

/** The doc's shell block under "15.3 kcat, jq and openssl". */
async function docSnippet(): Promise<string> {
  const doc = await readFile(path.join(projectRoot, 'docs', 'protocol.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### 15.3 kcat, jq and openssl'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('docs/protocol.md 15.3 has no bash block');
  return block;
}

/** connectors/examples/kcat-connector.sh from its first line to the end of `jws()`. */
async function scriptSetUp(): Promise<string> {
  const lines = (
    await readFile(path.join(projectRoot, 'connectors/examples/kcat-connector.sh'), 'utf8')
  ).split('\n');
  const start = lines.findIndex((line) => line.startsWith('jws() {'));
  const end = lines.findIndex((line, index) => index > start && line === '}');
  if (start < 0 || end < 0) throw new Error('kcat-connector.sh has no jws() function');
  return lines.slice(0, end + 1).join('\n');
}

describe('a change event published with kcat, jq and openssl, as docs/protocol.md 15.3 shows', () => {
  let env: TestGatewayEnvironment;
  let receiver: NoticeReceiver;

  beforeAll(async () => {
    env = await createTestGatewayEnvironment(prefix);
    const gateway = await env.start(`${prefix}-gw`);
    receiver = await startNoticeReceiver();
    const admin = await env.client(gateway, OPERATOR);
    expect(
      (
        await admin.put('/v1/systems/service-centre/approval/webhook-targets/approvals', {
          url: receiver.url,
        })
      ).status,
    ).toBe(201);
    const api = await env.client(gateway);
    const subscribed = await api.post('/v1/subscriptions', {
      certificateType: 'marriage-certificate',
      subject: { residentIdNumber: SPOUSE },
      purpose: { matter: TEST_MATTER, caseRef: 'CASE-KCAT-1', officer: 'officer-3' },
      endsAt: new Date(Date.now() + 86_400_000).toISOString(),
      delivery: { method: 'webhook', target: 'approvals' },
    });
    expect(subscribed.status, JSON.stringify(subscribed.body)).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await receiver?.close();
    await env?.cleanup();
  });

  it('reaches the subscribed approval system as a signed notice', async () => {
    const script = path.join(env.dataDir, 'publish-change.sh');
    await writeFile(script, `${await scriptSetUp()}\n${await docSnippet()}`);
    await run('bash', [script], {
      cwd: projectRoot,
      env: {
        ...process.env,
        KAFKA_BROKERS: inject('kafkaBrokers'),
        SILOBRIDGE_TOPIC_PREFIX: prefix,
        SIGNING_KEY_FILE: demoKeyFile(env.dataDir, sampleConnectorSystem('civil-affairs')),
      },
      timeout: 30_000,
    });
    const [received] = await vi.waitFor(
      () => {
        const delivered = receiver.received.filter((r) => r.answered === 204);
        if (delivered.length === 0) throw new Error('no notice yet');
        return delivered;
      },
      { timeout: 30_000, interval: 200 },
    );
    expect(received?.notice).toMatchObject({
      certificateType: 'marriage-certificate',
      provider: 'civil-affairs',
      change: 'revoked',
      effectiveAt: '2026-11-30T01:00:00Z',
      // The event also names the certificate number; this subscriber named the spouse only.
      subject: { residentIdNumber: SPOUSE },
      fields: { status: 'revoked', statusChangedOn: '2026-11-30' },
      providerKeyId: expect.stringMatching(/^civil-affairs\/connector#/),
    });
  }, 60_000);
});
