/** docs/protocol.md is what departments build against: its examples must be valid records. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSchemaCatalog, type SchemaCatalog } from '../../gateway/catalog/schema-catalog.js';
import { projectRoot, schemasDir } from '../../gateway/foundation/paths.js';
import type { EnvelopeName } from '../../gateway/protocol/envelopes.js';
import { topicNames } from '../../gateway/protocol/topics.js';

const doc = readFileSync(path.join(projectRoot, 'docs', 'protocol.md'), 'utf8');
const examples = [...doc.matchAll(/```json\n([\s\S]*?)\n```/g)].map((match) => JSON.parse(match[1] ?? ''));

function envelopeOf(example: Record<string, unknown>): EnvelopeName {
  if ('outcome' in example) return 'lookup-reply';
  if ('state' in example) return 'heartbeat';
  return 'lookup-request';
}

describe('docs/protocol.md', () => {
  let catalog: SchemaCatalog;
  beforeAll(async () => {
    catalog = await loadSchemaCatalog(schemasDir);
  });

  it('has an example of every envelope and every reply outcome', () => {
    expect(examples.map(envelopeOf).sort()).toEqual([
      'heartbeat',
      'lookup-reply',
      'lookup-reply',
      'lookup-reply',
      'lookup-request',
    ]);
    expect(examples.map((example) => example.outcome).filter(Boolean)).toEqual([
      'found',
      'not-found',
      'error',
    ]);
  });

  it('shows envelopes, records and subjects that the schemas accept', () => {
    for (const example of examples) {
      expect(catalog.validateEnvelope(envelopeOf(example), example), JSON.stringify(example)).toEqual({
        ok: true,
      });
      if (example.record) {
        expect(
          catalog.validateRecord(example.certificateType, example.schemaVersion, example.record),
        ).toEqual({ ok: true });
      }
      if (example.subject) {
        expect(
          catalog.validateSubject(example.certificateType, example.schemaVersion, example.subject),
        ).toEqual({ ok: true });
      }
    }
  });

  it('names the topics, headers and consumer group the code uses', () => {
    const topics = topicNames('<prefix>');
    for (const name of [
      topics.lookupRequests('<department>'),
      topics.heartbeats,
      topics.deadLetters,
      '<prefix>.connector.<department>',
    ]) {
      expect(doc).toContain(`\`${name}\``);
    }
    expect(doc).toContain(`\`${topics.lookupReplies('<gatewayInstanceId>')}\``);
    for (const header of ['kafka_correlationId', 'kafka_replyTopic', 'silobridge_dead_letter_reason']) {
      expect(doc).toContain(`\`${header}\``);
    }
  });

  it('lists every certificate type of the catalog with its provider department', () => {
    for (const type of catalog.list()) {
      const provider = catalog.get(type.certificateType)?.provider;
      // Tables are padded by the formatter: match the cell, not its spacing.
      const row = doc.split('\n').find((line) => new RegExp(`\\|\\s*\`${provider}\`\\s*\\|`).test(line));
      expect(row, `${provider} row`).toContain(`\`${type.certificateType}\``);
    }
  });
});
