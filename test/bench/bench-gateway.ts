/**
 * The gateway under benchmark, its own process: the configuration from the environment, as
 * `npm start` reads it, started by startGateway. `--audit off` replaces the lookups' audit recorder
 * with a no-op (the "audit off" baseline: only here, never a production switch). Answers the
 * orchestrator's `kafkaRequests` with the Kafka requests this process sent so far, by API, and
 * `profileStart` / `profileStop` by running V8's CPU profiler (what `node --cpu-prof` runs, here only
 * over the measured phase, without start-up and warm-up) and writing a .cpuprofile, and `memory` with
 * process.memoryUsage() (rss-in-flight.ts: how much of the RSS is the JavaScript heap).
 *   node --import tsx test/bench/bench-gateway.ts --gateway <dir> [--audit off]   (driven by gateway-bench.ts)
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as ConfigModule from '../../gateway/foundation/config.js';
import type * as GatewayModule from '../../gateway/gateway.js';
import { serveOrchestrator } from './bench-process.js';
import { countKafkaRequests } from './kafka-request-counter.js';

const option = (name: string) => {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : process.argv[at + 1];
};
const auditOff = option('--audit') === 'off';
// `--gateway`: the folder of the gateway's modules, the build's (dist/gateway, what `npm start` runs;
// this file then runs under plain node, see plain-node.ts) or the sources' (through tsx).
const gatewayDir = option('--gateway');
if (!gatewayDir) throw new Error('bench-gateway.ts needs --gateway <folder of the gateway modules>');
const gatewayModule = (file: string) => import(pathToFileURL(path.join(gatewayDir, file)).href);
const { loadConfig } = (await gatewayModule('foundation/config.js')) as typeof ConfigModule;
const { startGateway } = (await gatewayModule('gateway.js')) as typeof GatewayModule;
const kafkaRequests = countKafkaRequests();
const gateway = await startGateway(loadConfig(), {
  ...(auditOff ? { lookupAuditForBenchmark: { record: async () => {} } } : {}),
});
const profiler = new Session();
serveOrchestrator(
  { url: gateway.url, bus: gateway.bus.kind, database: gateway.database.kind },
  async (message) => {
    if (message.type === 'kafkaRequests') return { counts: kafkaRequests() };
    if (message.type === 'memory') return { ...process.memoryUsage() };
    if (message.type === 'profileStart') {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
      return {};
    }
    if (message.type === 'profileStop') {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(String(message.file), JSON.stringify(profile));
      profiler.disconnect();
      return {};
    }
    throw new Error(`unknown request ${message.type}`);
  },
  () => gateway.close(),
);
