/**
 * A throwaway Apache Kafka broker for tests and local development: one KRaft node that is both
 * broker and controller, listening on free 127.0.0.1 ports, with its data and log in a fresh temp
 * folder. `startKafkaBroker()` resolves once a kafkajs admin can create a topic with a leader and
 * find a group coordinator (so the first consumer group joins at once); `stop()` sends SIGTERM
 * (SIGKILL after a grace period) and removes the folder. Needs Java 17+ and, the first time, Maven.
 *
 * With `sasl: { username, password }` the client listener is SASL_PLAINTEXT and accepts only
 * SCRAM-SHA-256 logins. The credentials are written into the metadata log when the storage is
 * formatted (`StorageTool format --add-scram`, KIP-900), beside the broker's own inter-broker user,
 * so they work from the first request. The controller listener stays PLAINTEXT on its own port.
 * `users` adds more SCRAM users the same way.
 *
 * With `authorizer: true` the broker enforces ACLs (KRaft's StandardAuthorizer, and no ACL means no
 * access): its own user and the `sasl` user are the only super users, so the `sasl` user is the
 * test's admin, and every user in `users` can do only what ACLs grant it. The controller listener
 * then requires a SASL/PLAIN login too, as the broker's own user, so that no anonymous connection is
 * a super user; PLAIN's one account is in the listener's JAAS setting, not in the metadata.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafkaJars, findJava } from './kafka-jars.js';
import { lastLines, runCommand } from './run-command.js';

export interface KafkaBroker {
  brokers: string[];
  logFile: string;
  /** Set when started with `sasl`: what a kafkajs client passes as its `sasl` option. */
  sasl?: { mechanism: 'scram-sha-256'; username: string; password: string };
  /** Fault drills: kills the broker process (SIGKILL), keeping its data; clients get refused connections. */
  kill(): Promise<void>;
  /** Starts the killed broker again on the same port and data, and resolves once it is ready. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface KafkaBrokerOptions {
  log?: (line: string) => void;
  /**
   * Require SCRAM-SHA-256 logins on the client listener, and create this user for them (with
   * `authorizer`, a super user: the test's admin).
   */
  sasl?: { username: string; password: string };
  /** More SCRAM-SHA-256 users to create with the storage, beside `sasl`'s. Needs `sasl`. */
  users?: Array<{ username: string; password: string }>;
  /** Enforce ACLs: StandardAuthorizer, `allow.everyone.if.no.acl.found=false`. Needs `sasl`. */
  authorizer?: boolean;
}

/** The broker's own SCRAM user, for its inter-broker listener (the client listener, on one node). */
const BROKER_USER = 'silobridge-harness-broker';
/** StorageTool's `--add-scram` syntax has no quoting we rely on: keep names and passwords plain. */
const SCRAM_TEXT = /^[A-Za-z0-9._-]{1,64}$/;

interface SaslSetup {
  username: string;
  password: string;
  brokerPassword: string;
  /** Users without special rights, beside the `sasl` one. */
  users: Array<{ username: string; password: string }>;
  authorizer: boolean;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
const PORT_ATTEMPTS = 3;
const READY_TOPIC = 'silobridge-harness-ready';
const JVM_OPTIONS = [
  '-Xms128m',
  '-Xmx512m',
  '-Djava.awt.headless=true',
  '-Dorg.slf4j.simpleLogger.showDateTime=true',
  '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
  '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
  // The full config dump (hundreds of lines per component) buries the lines that explain a failure.
  '-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn',
];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

class PortTakenError extends Error {}

export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const log = options.log ?? (() => {});
  const sasl = saslSetup(options);
  const started = Date.now();
  const java = await findJava();
  const jars = await ensureKafkaJars(log);
  for (let attempt = 1; ; attempt++) {
    try {
      const broker = await startOnce(java, jars.dir, jars.version, log, sasl);
      log(
        `Kafka ${jars.version} broker ready at ${broker.brokers.join(',')} in ${seconds(Date.now() - started)}.`,
      );
      return broker;
    } catch (error) {
      // Free ports are picked before the JVM binds them, so another process can win the race.
      if (!(error instanceof PortTakenError) || attempt === PORT_ATTEMPTS) throw error;
      log(`${error.message} Retrying with other ports.`);
    }
  }
}

function saslSetup(options: KafkaBrokerOptions): SaslSetup | undefined {
  const { sasl, users = [], authorizer = false } = options;
  if (!sasl) {
    if (users.length > 0 || authorizer)
      throw new Error('The test broker needs `sasl` for `users` and `authorizer`.');
    return undefined;
  }
  const names = new Set([BROKER_USER]);
  for (const { username, password } of [sasl, ...users]) {
    if (!SCRAM_TEXT.test(username) || !SCRAM_TEXT.test(password) || names.has(username)) {
      throw new Error(
        `The test broker's SASL user names and passwords must be 1-64 of A-Z a-z 0-9 . _ - ` +
          `(and the names distinct, and not ${BROKER_USER}): ${JSON.stringify(username)}.`,
      );
    }
    names.add(username);
  }
  return { ...sasl, users, authorizer, brokerPassword: randomBytes(18).toString('base64url') };
}

/** `--add-scram` arguments creating the client's user, the other users and the broker's own. */
function scramArguments(sasl: SaslSetup | undefined): string[] {
  if (!sasl) return [];
  return [
    { username: sasl.username, password: sasl.password },
    ...sasl.users,
    { username: BROKER_USER, password: sasl.brokerPassword },
  ].flatMap(({ username, password }) => [
    '--add-scram',
    `SCRAM-SHA-256=[name=${username},password=${password}]`,
  ]);
}

async function startOnce(
  java: string,
  jarDir: string,
  version: string,
  log: (line: string) => void,
  sasl: SaslSetup | undefined,
) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'silobridge-kafka-'));
  const logFile = path.join(dir, 'broker.log');
  const dataDir = path.join(dir, 'data');
  const propertiesFile = path.join(dir, 'server.properties');
  const [port = 0, controllerPort = 0] = await freePorts(2);
  await mkdir(dataDir);
  await writeFile(propertiesFile, serverProperties(port, controllerPort, dataDir, sasl));
  const classpath = ['-cp', path.join(jarDir, '*')];

  // StorageTool calls System.exit, so it runs as its own JVM before the broker.
  const format = await runCommand(java, [
    ...JVM_OPTIONS,
    ...classpath,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId(),
    '-c',
    propertiesFile,
    '--ignore-formatted',
    ...scramArguments(sasl),
  ]);
  await appendFile(logFile, format.output);
  if (format.code !== 0) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(
      `Kafka ${version}'s StorageTool could not format ${dataDir} (exit code ${format.code}):\n` +
        `${lastLines(format.output, 20)}\nFull log: ${logFile}`,
    );
  }

  log(
    `Starting Kafka ${version} on ${HOST}:${port}${sasl ? ` (SASL/SCRAM-SHA-256${sasl.authorizer ? ', ACLs enforced' : ''})` : ''} (log: ${logFile})...`,
  );
  const launch = () => {
    const logFd = openSync(logFile, 'a');
    const child = spawn(java, [...JVM_OPTIONS, ...classpath, 'kafka.Kafka', propertiesFile], {
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => {
        void appendFile(logFile, `Could not run ${java}: ${error.message}\n`).finally(() =>
          resolve({ code: null, signal: null }),
        );
      });
    });
    return { child, exited, watchdog: startWatchdog(child, dir) };
  };
  let { child, exited, watchdog } = launch();
  const brokers = [`${HOST}:${port}`];
  const clientSasl = sasl && {
    mechanism: 'scram-sha-256' as const,
    username: sasl.username,
    password: sasl.password,
  };

  let stopping: Promise<void> | undefined;
  const shutdown = (keep: 'nothing' | 'log') => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(kill);
      }
      watchdog.kill('SIGKILL');
      watchdog.stdin?.destroy();
      await rm(keep === 'log' ? dataDir : dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    await waitUntilReady(brokers, clientSasl, exited, logFile, version);
  } catch (error) {
    // The error message points at the log, so it outlives the failed broker.
    await shutdown('log').catch(() => {});
    throw error;
  }
  const stop = () => shutdown('nothing');
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    watchdog.kill('SIGKILL');
  };
  const restart = async () => {
    await kill();
    ({ child, exited, watchdog } = launch());
    await waitUntilReady(brokers, clientSasl, exited, logFile, version);
  };
  const controls = { brokers, logFile, kill, restart, stop };
  return clientSasl ? { ...controls, sasl: clientSasl } : controls;
}

function serverProperties(
  port: number,
  controllerPort: number,
  dataDir: string,
  sasl: SaslSetup | undefined,
): string {
  const client = sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${HOST}:${controllerPort}`,
    listeners: `${client}://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'advertised.listeners': `${client}://${HOST}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': client,
    'listener.security.protocol.map': `CONTROLLER:PLAINTEXT,${client}:${client}`,
    ...(sasl && saslProperties(sasl)),
    ...(sasl?.authorizer && authorizerProperties(sasl)),
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // Otherwise every consumer group's first join waits 3 s for more members.
    'group.initial.rebalance.delay.ms': 0,
    // Production brokers refuse unknown topics; tests must see the same failure.
    'auto.create.topics.enable': false,
  };
  return `${Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

/**
 * SCRAM-SHA-256 on the client listener, which on one combined node is also the inter-broker
 * listener: the broker logs in to itself (transaction markers, for one) as its own user.
 */
function saslProperties(sasl: SaslSetup): Record<string, string> {
  return {
    'sasl.enabled.mechanisms': 'SCRAM-SHA-256',
    'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-256',
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config':
      'org.apache.kafka.common.security.scram.ScramLoginModule required ' +
      `username="${BROKER_USER}" password="${sasl.brokerPassword}";`,
  };
}

/**
 * ACLs enforced by KRaft's StandardAuthorizer, with the broker's own user and the test's admin as the
 * super users. The broker reaches the controller (itself) as its own user over SASL/PLAIN, whose
 * one account is in the JAAS line, so its registration is authorised before any metadata is read.
 */
function authorizerProperties(sasl: SaslSetup): Record<string, string | boolean> {
  const password = sasl.brokerPassword;
  return {
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': `User:${BROKER_USER};User:${sasl.username}`,
    'allow.everyone.if.no.acl.found': false,
    'listener.security.protocol.map': 'CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
    'sasl.mechanism.controller.protocol': 'PLAIN',
    'listener.name.controller.sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.controller.plain.sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
      `username="${BROKER_USER}" password="${password}" user_${BROKER_USER}="${password}";`,
  };
}

/** Polls with a fresh admin until topic creation and group coordination both work. */
async function waitUntilReady(
  brokers: string[],
  sasl: KafkaBroker['sasl'],
  exited: Promise<Exit>,
  logFile: string,
  version: string,
) {
  const kafka = new Kafka({
    clientId: 'silobridge-test-harness',
    brokers,
    ...(sasl && { sasl: { ...sasl } }),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exit: Exit | undefined;
  void exited.then((value) => {
    exit = value;
  });
  let lastError: unknown;
  while (!exit && Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: READY_TOPIC, numPartitions: 1 }], waitForLeaders: true });
      // Creates __consumer_offsets now rather than in the first test's group join.
      await admin.describeGroups(['silobridge-harness-warm-up']);
      return;
    } catch (error) {
      lastError = error;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await Promise.race([delay(200), exited]);
  }

  const tail = await readTail(logFile, 40);
  if (exit) {
    if (/Address already in use|BindException/.test(tail)) {
      throw new PortTakenError(`Kafka could not bind its port (${brokers[0]} or its controller port).`);
    }
    const hint = /UnsupportedClassVersionError/.test(tail)
      ? ` Kafka ${version} needs Java 17+: install Java 17 or set JAVA_HOME.`
      : '';
    throw new Error(
      `The Kafka ${version} broker exited during start-up (${exit.signal ?? `exit code ${exit.code}`}).` +
        `${hint} Last lines of ${logFile}:\n${tail}`,
    );
  }
  throw new Error(
    `The Kafka ${version} broker at ${brokers[0]} was not ready after ${seconds(START_TIMEOUT_MS)} ` +
      `(last error: ${lastError instanceof Error ? lastError.message : String(lastError)}). ` +
      `Last lines of ${logFile}:\n${tail}`,
  );
}

/**
 * Kills the broker and removes its folder if this Node process dies without calling stop() (even
 * by SIGKILL): the watchdog shell reads a pipe from us and goes on once that pipe closes.
 */
function startWatchdog(child: ChildProcess, dir: string): ChildProcess {
  const script = [
    'cat >/dev/null',
    'kill -TERM "$1" 2>/dev/null',
    'i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.5; i=$((i+1)); done',
    'kill -0 "$1" 2>/dev/null && kill -KILL "$1"',
    'rm -rf "$2"',
  ].join('; ');
  const watchdog = spawn('/bin/sh', ['-c', script, 'kafka-watchdog', String(child.pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither the watchdog nor its pipe may keep the event loop (and so a test run) alive.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

async function freePorts(count: number): Promise<number[]> {
  // All servers stay open until every port is known, so the ports are distinct.
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, HOST, resolve);
      });
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A Kafka cluster id: 16 random bytes, base64url; never starting with '-', which CLIs misread. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function readTail(file: string, lines: number): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '(no log written)';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return lastLines(buffer.toString('utf8'), lines);
  } finally {
    await handle.close();
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
