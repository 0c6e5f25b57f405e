/**
 * What kafkajs failures mean to an operator: a refused SASL login becomes a KafkaAuthenticationError
 * naming the user, a connection the broker closed on a client without SASL gets a hint, and
 * errorType() finds the broker's error code under kafkajs's retry wrappers.
 */
import type { KafkaSecurity } from '../foundation/config.js';

/** The brokers refused the SASL login: wrong user name or password, or a mechanism they do not enable. */
export class KafkaAuthenticationError extends Error {
  override readonly name = 'KafkaAuthenticationError';
}

const NO_LOGIN_HINT =
  ' (the broker closed the connection: does its listener require a SASL login or TLS that this client is not configured for?)';

/**
 * A refused SASL login becomes a KafkaAuthenticationError naming the user (kafkajs does not retry
 * it, so it surfaces at once), with kafkajs's reason in its message rather than as its cause, which
 * pino would print a second time. A connection the broker closed, from a client without SASL, gets a
 * hint: that is what a SASL listener does to a client that does not log in.
 */
export function explainConnectionError(error: unknown, sasl: KafkaSecurity['sasl']): unknown {
  if (!(error instanceof Error) || error instanceof KafkaAuthenticationError) return error;
  const names = causes(error).map((cause) => cause.name);
  if (names.includes('KafkaJSSASLAuthenticationError') && sasl) {
    return new KafkaAuthenticationError(
      `Kafka refused the SASL credentials for user "${sasl.username}" ` +
        `(${sasl.mechanism.toUpperCase()}): ${error.message}`,
    );
  }
  if (names.includes('KafkaJSConnectionClosedError') && !sasl && !error.message.endsWith(NO_LOGIN_HINT)) {
    error.message += NO_LOGIN_HINT;
  }
  return error;
}

/** The error and its causes (kafkajs wraps the last failure in KafkaJSNumberOfRetriesExceeded). */
function causes(error: Error): Error[] {
  const chain: Error[] = [];
  for (let current: unknown = error; current instanceof Error && chain.length < 10; ) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

export function errorType(error: unknown): string | undefined {
  let current: unknown = error;
  // kafkajs wraps the broker's error in KafkaJSNumberOfRetriesExceeded (cause chain).
  while (current instanceof Error) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
