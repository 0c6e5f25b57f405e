/**
 * KafkaBus against a broker that requires a SASL/SCRAM-SHA-256 login (its own broker, started here:
 * the shared one from the global setup is PLAINTEXT). The right credentials, taken through
 * loadConfig as the gateway takes them, publish and consume; a wrong password or no login at all
 * fail at once, saying why, rather than hanging or retrying.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKafkaBus, KafkaAuthenticationError } from '../../gateway/bus/kafka-bus.js';
import type { KafkaSecurity } from '../../gateway/foundation/config.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import type { Bus, IncomingMessage } from '../../gateway/protocol/bus.js';
import { createRecordingLogger, uniqueName, waitLong } from '../contract/bus-contract.js';
import { type KafkaBroker, startKafkaBroker } from '../kafka/kafka-broker.js';

const username = 'dept-civil-affairs';
const password = randomBytes(18).toString('base64url');
/** Failures must come from the broker's answer, well before check()'s own timeout. */
const FAST_MS = 5_000;

let broker: KafkaBroker;
const open: Bus[] = [];

beforeAll(async () => {
  broker = await startKafkaBroker({ sasl: { username, password } });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(open.map((bus) => bus.close()));
  await broker?.stop();
});

function bus(security: KafkaSecurity | undefined): Bus {
  const created = createKafkaBus({
    brokers: broker.brokers,
    clientId: `kafka-sasl-test-${randomBytes(3).toString('hex')}`,
    logger: createRecordingLogger(),
    security,
    checkTimeoutMs: 10_000,
  });
  open.push(created);
  return created;
}

async function timed<T>(work: Promise<T>): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const started = Date.now();
  const [result] = await Promise.allSettled([work]);
  return { ms: Date.now() - started, result: result as PromiseSettledResult<T> };
}

describe('KafkaBus with SASL/SCRAM-SHA-256', () => {
  it('publishes and consumes with the right credentials, configured as the gateway is', async () => {
    const config = loadConfig({
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
      KAFKA_SASL_USERNAME: username,
      KAFKA_SASL_PASSWORD: password,
    });
    expect(config.kafkaSecurity).toEqual({
      ssl: false,
      sasl: { mechanism: 'scram-sha-256', username, password },
    });
    const kafka = bus(config.kafkaSecurity);
    await kafka.check();
    const topic = uniqueName('sasl');
    await kafka.ensureTopics([topic], 2);
    const received: IncomingMessage[] = [];
    const subscription = await kafka.subscribe({
      topics: [topic],
      groupId: uniqueName('g'),
      fromBeginning: true,
      handle: async (message) => void received.push(message),
    });
    await subscription.ready;

    await kafka.publish(topic, [
      { key: 'subject-1', value: '结婚证', headers: { kafka_correlationId: 'lookup-1' } },
      { key: 'subject-2', value: '营业执照' },
    ]);

    await vi.waitFor(
      () => expect(received.map((m) => m.value).sort()).toEqual(['结婚证', '营业执照'].sort()),
      waitLong,
    );
    expect(received.find((m) => m.key === 'subject-1')?.headers).toEqual({ kafka_correlationId: 'lookup-1' });
  });

  it('fails fast with a clear error when the password is wrong', async () => {
    const wrong = `not-${password}`;
    const kafka = bus({ ssl: false, sasl: { mechanism: 'scram-sha-256', username, password: wrong } });

    const { ms, result } = await timed(kafka.check());
    expect(ms).toBeLessThan(FAST_MS);
    expect(result.status).toBe('rejected');
    const error = (result as PromiseRejectedResult).reason as Error;
    expect(error).toBeInstanceOf(KafkaAuthenticationError);
    expect(error.message).toMatch(
      new RegExp(`^Kafka refused the SASL credentials for user "${username}" \\(SCRAM-SHA-256\\)`),
    );
    expect(error.message).not.toContain(wrong);

    // Start-up's first calls fail the same way, and so does a consumer's own connection.
    await expect(kafka.ensureTopics([uniqueName('sasl')])).rejects.toBeInstanceOf(KafkaAuthenticationError);
    await expect(kafka.publish(uniqueName('sasl'), [{ value: 'x' }])).rejects.toThrow(
      /Kafka refused the SASL credentials/,
    );
    await expect(
      kafka.subscribe({ topics: [uniqueName('sasl')], groupId: uniqueName('g'), handle: async () => {} }),
    ).rejects.toBeInstanceOf(KafkaAuthenticationError);
  });

  it('fails fast, with a hint, when the client does not log in at all', async () => {
    const kafka = bus(undefined);

    const { ms, result } = await timed(kafka.check());
    expect(ms).toBeLessThan(FAST_MS);
    expect(result.status).toBe('rejected');
    expect(((result as PromiseRejectedResult).reason as Error).message).toMatch(
      /closed the connection: does its listener require a SASL login or TLS/,
    );
    await expect(kafka.ensureTopics([uniqueName('sasl')])).rejects.toThrow(/closed the connection/);
  });
});
