/**
 * A gateway for unit tests: in this process, on the embedded database (PGlite) and the in-process
 * bus, with the demo identities and a data folder of its own; and the sample connectors' data behind
 * connectors the test starts itself (e.g. one department slow, another absent).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import type { CertificateHandler } from '../../connectors/runtime/certificate-handler.js';
import { type Connector, createConnector } from '../../connectors/runtime/connector-runtime.js';
import { createSampleHandlers } from '../../connectors/samples/sample-connectors.js';
import { loadConfig } from '../../gateway/foundation/config.js';
import { sampleSeedDir } from '../../gateway/foundation/paths.js';
import { type RunningGateway, startGateway } from '../../gateway/gateway.js';
import { demoConnectorSigners } from './department-keys.js';
import { writeTestPolicy } from './gateway-auth.js';

export interface EmbeddedGateway {
  gateway: RunningGateway;
  dataDir: string;
  /** Starts a connector for `department` on the gateway's bus, signing with its demo key. */
  startConnector(department: string, handlers: Record<string, CertificateHandler>): Promise<Connector>;
  /** Stops the connectors started here and the gateway, and removes the data folder. */
  close(): Promise<void>;
}

export interface EmbeddedGatewayOptions {
  /** More settings (SILOBRIDGE_*), e.g. SILOBRIDGE_SAMPLE_CONNECTORS: 'false'. */
  env?: Record<string, string>;
  /** Writes the policies folder; default: the test policy granting the test requester every type. */
  writePolicies?: (dir: string) => Promise<void>;
}

export async function startEmbeddedGateway(options: EmbeddedGatewayOptions = {}): Promise<EmbeddedGateway> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'silobridge-embedded-'));
  const policiesDir = path.join(dataDir, 'policies');
  await mkdir(policiesDir);
  await (options.writePolicies ?? writeTestPolicy)(policiesDir);
  const gateway = await startGateway(
    loadConfig({
      PORT: '0',
      SILOBRIDGE_DATA_DIR: dataDir,
      SILOBRIDGE_POLICIES_DIR: policiesDir,
      SILOBRIDGE_DEMO_IDENTITIES: 'true',
      SILOBRIDGE_POLICY_WATCH: 'false',
      ...options.env,
    }),
    { logger: pino({ level: 'silent' }) },
  );
  const connectors: Connector[] = [];
  let signerFor: Awaited<ReturnType<typeof demoConnectorSigners>> | undefined;
  return {
    gateway,
    dataDir,
    async startConnector(department, handlers) {
      signerFor ??= await demoConnectorSigners(dataDir);
      const connector = createConnector({
        bus: gateway.bus,
        department,
        topicPrefix: gateway.config.topicPrefix,
        signer: signerFor(department),
        handlers,
        logger: pino({ level: 'silent' }),
      });
      await connector.start();
      connectors.push(connector);
      return connector;
    },
    async close() {
      for (const connector of connectors) await connector.stop();
      await gateway.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The sample department's handlers, each answering only after `delayMs()` milliseconds. */
export function delayedSampleHandlers(
  department: string,
  delayMs: () => number,
): Record<string, CertificateHandler> {
  return Object.fromEntries(
    Object.entries(createSampleHandlers(department, sampleSeedDir)).map(([type, handler]) => [
      type,
      {
        ...handler,
        async lookup(request, signal) {
          const ms = delayMs();
          if (ms > 0) await delay(ms);
          return handler.lookup(request, signal);
        },
      } satisfies CertificateHandler,
    ]),
  );
}
