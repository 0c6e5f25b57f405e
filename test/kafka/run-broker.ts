/**
 * `npm run kafka`: starts the test broker and keeps it up until Ctrl-C or SIGTERM. Prints
 * `KAFKA_BROKERS=<host:port>` on stdout (progress goes to stderr), so
 * `export $(npm run -s kafka | head -1)` style use and copy-paste both work.
 *
 * `npm run kafka -- --acls [department ...]`: a broker that requires SASL/SCRAM-SHA-256 logins and
 * enforces ACLs (StandardAuthorizer), with users `admin` (super user), `gateway` and
 * `connector-<department>` for each department named (default: the four sample departments). Prints
 * each user's password on stdout as `KAFKA_SASL_PASSWORD_<USER>=...`, to try docs/connectors.md's
 * Kafka fence on one machine. Passwords are random per start.
 */
import { randomBytes } from 'node:crypto';
import { startKafkaBroker } from './kafka-broker.js';

const SAMPLE_DEPARTMENTS = ['market-regulation', 'public-security', 'civil-affairs', 'natural-resources'];
const args = process.argv.slice(2);
const withAcls = args[0] === '--acls';
if (args.length > 0 && !withAcls) {
  console.error('usage: npm run kafka [-- --acls [department ...]]');
  process.exit(2);
}
const password = () => randomBytes(12).toString('hex');
const admin = { username: 'admin', password: password() };
const users = withAcls
  ? [
      { username: 'gateway', password: password() },
      ...(args.length > 1 ? args.slice(1) : SAMPLE_DEPARTMENTS).map((department) => ({
        username: `connector-${department}`,
        password: password(),
      })),
    ]
  : [];

let stopping = false;

try {
  const broker = await startKafkaBroker({
    log: (line) => console.error(line),
    ...(withAcls ? { sasl: admin, users, authorizer: true } : {}),
  });
  console.log(`KAFKA_BROKERS=${broker.brokers.join(',')}`);
  if (withAcls) {
    for (const user of [admin, ...users]) {
      console.log(`KAFKA_SASL_PASSWORD_${user.username.toUpperCase().replaceAll('-', '_')}=${user.password}`);
    }
    console.error(
      'SASL/SCRAM-SHA-256 and ACLs enforced: log in with KAFKA_SASL_MECHANISM=scram-sha-256, ' +
        'KAFKA_SASL_USERNAME=<user> and its password; give the gateway and connectors their ACLs with ' +
        '`silobridge kafka acls --apply` as admin.',
    );
  }
  console.error(`Broker log: ${broker.logFile}\nPress Ctrl-C to stop the broker.`);

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping the Kafka broker...`);
    broker.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The broker's JVM is what keeps this process alive; if the loop drains, it died on its own.
  process.on('beforeExit', () => {
    if (stopping) return;
    console.error(`The Kafka broker exited unexpectedly; see ${broker.logFile}`);
    process.exit(1);
  });
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
