/**
 * `npm run kafka`: starts the test broker and keeps it up until Ctrl-C or SIGTERM. Prints
 * `KAFKA_BROKERS=<host:port>` on stdout (progress goes to stderr), so
 * `export $(npm run -s kafka | head -1)` style use and copy-paste both work.
 */
import { startKafkaBroker } from './kafka-broker.js';

let stopping = false;

try {
  const broker = await startKafkaBroker({ log: (line) => console.error(line) });
  console.log(`KAFKA_BROKERS=${broker.brokers.join(',')}`);
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
