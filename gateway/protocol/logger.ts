/**
 * The logger the connector runtime and the buses write to: pino's, so a department's connector logs
 * JSON lines like the gateway does. A type only: the protocol folder pulls no logging set-up in.
 */
export type { Logger } from 'pino';
