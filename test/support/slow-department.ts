/**
 * A department whose own system answers slowly, behind `silobridge connector --config`: an HTTP
 * service in the test process serving the sample resident ID cards after `delayMs`, and connector
 * processes (the build, as a department runs it) reading it with the HTTP source. Lookups spend that
 * long inside the connector, so killing it catches some of them in flight.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { readSeed } from '../../connectors/samples/sample-connectors.js';
import { projectRoot, sampleSeedDir } from '../../gateway/foundation/paths.js';
import { demoKeyFile, sampleConnectorSystem } from '../../gateway/registry/demo-bootstrap.js';
import { stopChildProcess } from './child-process.js';
import type { ConnectorProcess } from './connector-process.js';
import { cliEntry } from './connector-process.js';

export const SLOW_DEPARTMENT = 'public-security';
export const SLOW_TYPE = 'resident-id-card';

export interface SlowDepartment {
  /** The connector configuration file the instances run with. */
  configFile: string;
  start(instanceId: string, env: Record<string, string>): ConnectorProcess;
  close(): Promise<void>;
}

export async function startSlowDepartment(
  dataDir: string,
  delayMs: number,
  /** The connectors' heartbeat interval; default: the runtime's (5 s). */
  heartbeatIntervalMs?: number,
): Promise<SlowDepartment> {
  const seed = readSeed(SLOW_TYPE, sampleSeedDir);
  const server: Server = createServer((request, response) => {
    const id = decodeURIComponent(request.url?.replace(/^\/id-cards\//, '') ?? '');
    const entry = seed.find((candidate) => [candidate.subject.residentIdNumber].flat().includes(id));
    setTimeout(() => {
      response.writeHead(entry ? 200 : 404, { 'content-type': 'application/json' });
      response.end(JSON.stringify(entry?.record ?? {}));
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const configFile = path.join(dataDir, 'slow-public-security.json');
  await writeFile(
    configFile,
    JSON.stringify({
      department: SLOW_DEPARTMENT,
      system: sampleConnectorSystem(SLOW_DEPARTMENT),
      signingKey: demoKeyFile(dataDir, sampleConnectorSystem(SLOW_DEPARTMENT)),
      ...(heartbeatIntervalMs ? { heartbeatIntervalMs } : {}),
      certificateTypes: {
        [SLOW_TYPE]: {
          schemaVersion: 1,
          http: {
            baseUrl: `http://127.0.0.1:${port}/`,
            path: 'id-cards/{residentIdNumber}',
            timeoutMs: 10_000,
          },
        },
      },
    }),
  );
  return {
    configFile,
    start(instanceId, env) {
      const child = spawn(
        process.execPath,
        [cliEntry, 'connector', '--config', configFile, '--instance-id', instanceId],
        {
          cwd: projectRoot,
          env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      return {
        department: SLOW_DEPARTMENT,
        instanceId,
        child,
        output: () => output,
        stop: (graceMs) => stopChildProcess(child, graceMs),
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
