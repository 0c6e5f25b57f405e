/**
 * The Java runtime and the Kafka jars the test broker runs on. The jars come from Maven Central via
 * pom.xml beside this file and are cached in `.cache/jars-<kafka.version>/` (gitignored); Maven
 * writes into a `.partial-<pid>-<time>` folder that is renamed only once complete, so an
 * interrupted download is never mistaken for a finished one.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastLines, runCommand } from './run-command.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const POM = path.join(HERE, 'pom.xml');
const CACHE = path.join(HERE, '.cache');
/** Kafka 4.x brokers need Java 17. */
const MIN_JAVA = 17;
const NO_KAFKA_HINT = 'Or point the tests at a running broker with KAFKA_BROKERS=host:port.';

export interface KafkaJars {
  version: string;
  dir: string;
  /** Whether this call had to download them. */
  downloaded: boolean;
}

/** The `java` executable to use ($JAVA_HOME first), after checking it is Java 17 or newer. */
export async function findJava(): Promise<string> {
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const result = await runCommand(java, ['-version']);
  if (result.missing) {
    throw new Error(
      `Java was not found (${java}). The Kafka test broker needs Java ${MIN_JAVA}+: install it ` +
        `(e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME. ${NO_KAFKA_HINT}`,
    );
  }
  // `version "17.0.15"` for modern JDKs, `version "1.8.0_392"` for Java 8.
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.output);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : Number.NaN;
  if (result.code !== 0 || !(major >= MIN_JAVA)) {
    throw new Error(
      `The Kafka test broker needs Java ${MIN_JAVA}+, but \`${java} -version\` said: ` +
        `${lastLines(result.output, 3) || `exit code ${result.code}`}. Install Java ${MIN_JAVA} ` +
        `(e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME. ${NO_KAFKA_HINT}`,
    );
  }
  return java;
}

/** The Kafka version pinned in pom.xml (`<kafka.version>`), which names the jar cache folder. */
export async function pinnedKafkaVersion(): Promise<string> {
  const pom = await readFile(POM, 'utf8');
  const version = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom)?.[1];
  if (!version) throw new Error(`${POM} has no <kafka.version> property.`);
  return version;
}

/** The folder holding every jar the broker needs, downloading them with Maven the first time. */
export async function ensureKafkaJars(log: (line: string) => void): Promise<KafkaJars> {
  const version = await pinnedKafkaVersion();
  const dir = path.join(CACHE, `jars-${version}`);
  if (existsSync(dir)) return { version, dir, downloaded: false };

  await mkdir(CACHE, { recursive: true });
  await removeAbandonedDownloads();
  const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
  log(`Kafka ${version} jars are not cached yet: downloading them from Maven Central into ${dir} (once)...`);
  try {
    const result = await runCommand('mvn', [
      '-q',
      '-B',
      '-f',
      POM,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${partial}`,
    ]);
    if (result.missing) {
      throw new Error(
        'Maven (mvn) was not found: the Kafka test broker downloads its jars with Maven. Install ' +
          `Maven (e.g. apt-get install maven) and Java ${MIN_JAVA}. ${NO_KAFKA_HINT}`,
      );
    }
    if (result.code !== 0) throw new Error(describeMavenFailure(version, result.code, result.output));
    if (!existsSync(path.join(partial, `kafka_2.13-${version}.jar`))) {
      throw new Error(`mvn finished but ${partial} has no kafka_2.13-${version}.jar; check ${POM}.`);
    }
    await rename(partial, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another process finished the same download first: keep theirs.
      if (!existsSync(dir)) throw error;
      await rm(partial, { recursive: true, force: true });
    });
    return { version, dir, downloaded: true };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}

function describeMavenFailure(version: string, code: number | null, rawOutput: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
  const output = rawOutput.replace(/\x1b\[[0-9;]*m/g, '');
  const tail = lastLines(output, 15);
  const missing = /Could not find artifact (\S+)|(\S+) was not found in/.exec(output);
  if (missing) {
    return `Maven Central has no ${missing[1] ?? missing[2]}: check <kafka.version> (now ${version}) in ${POM}.\n${tail}`;
  }
  const network =
    /Could not transfer|No plugin found for prefix|UnknownHost|Connect(ion)? (to .* )?(refused|timed out|reset|failed)|Network is unreachable|No route to host|Temporary failure in name resolution|PKIX/i;
  if (network.test(output)) {
    return (
      `mvn could not reach Maven Central to download Kafka ${version}'s jars. Check the network ` +
      `or the proxy/mirror in ~/.m2/settings.xml, then run the tests again. ${NO_KAFKA_HINT}\n${tail}`
    );
  }
  return `mvn failed (exit code ${code}) resolving Kafka ${version}'s jars from ${POM}:\n${tail}`;
}

/** Partial downloads left by processes that no longer run (killed mid-download). */
async function removeAbandonedDownloads(): Promise<void> {
  for (const name of await readdir(CACHE)) {
    const pid = /\.partial-(\d+)-\d+$/.exec(name)?.[1];
    if (pid && !isRunning(Number(pid))) await rm(path.join(CACHE, name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
