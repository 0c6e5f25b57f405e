/**
 * Runs `silobridge connector --department <code> --system <code>/connector --key <file>` from the build
 * (`dist/gateway/cli/silobridge.js`) as its own process, as a department team runs it, signing with
 * the sample connector key the demo bootstrap wrote to the gateway's data folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../gateway/foundation/paths.js';
import { demoKeyFile, sampleConnectorSystem } from '../../gateway/registry/demo-bootstrap.js';
import { stopChildProcess } from './child-process.js';

export const cliEntry = path.join(projectRoot, 'dist', 'gateway', 'cli', 'silobridge.js');

export interface ConnectorProcess {
  department: string;
  instanceId: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far, for assertion messages. */
  output: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface ConnectorProcessOptions {
  department: string;
  instanceId: string;
  /** KAFKA_BROKERS, SILOBRIDGE_TOPIC_PREFIX and anything else the connector should see. */
  env: Record<string, string>;
  /** The data folder of a gateway started with demo identities: its demo-keys/ hold the signing key. */
  dataDir: string;
}

export function startConnectorProcess(options: ConnectorProcessOptions): ConnectorProcess {
  if (!existsSync(cliEntry))
    throw new Error(`${cliEntry} is missing: run \`npm run build\` (npm test does).`);
  const child = spawn(
    process.execPath,
    [
      cliEntry,
      'connector',
      '--department',
      options.department,
      '--instance-id',
      options.instanceId,
      '--system',
      sampleConnectorSystem(options.department),
      '--key',
      demoKeyFile(options.dataDir, sampleConnectorSystem(options.department)),
    ],
    {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...options.env },
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
    department: options.department,
    instanceId: options.instanceId,
    child,
    output: () => output,
    stop: (graceMs) => stopChildProcess(child, graceMs),
  };
}
