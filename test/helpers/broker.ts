// Brokers for integration tests: Wharf in-process (startTestBroker), Wharf as a
// child process for crash tests (spawnBroker), or a real RabbitMQ when
// WHARF_TEST_REFERENCE_URL is set, so the same suites check that each
// expectation is RabbitMQ's actual behaviour:
//
//   WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:25672 npm test
//
// Never defaults to 5672: a developer's own RabbitMQ is not ours to touch.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrokerHandle, BrokerOptions } from '../../src/index.js';
import { withTimeout } from './async.js';

/** The reference broker's URL, or undefined when testing Wharf itself. */
export const referenceUrl: string | undefined = process.env.WHARF_TEST_REFERENCE_URL || undefined;

/** True when the suites run against a real RabbitMQ instead of Wharf. */
export const isReference = referenceUrl !== undefined;

/** Pass as `{ skip }` to tests that need Wharf's own restart or data dir. */
export const skipUnderReference: string | false = isReference ? 'needs a Wharf restart; not possible against the reference broker' : false;

const BROKER_START_TIMEOUT_MS = 10_000;

export interface TestBroker {
  /** amqp://guest:guest@127.0.0.1:PORT, valid until the next restart(). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Empty string under the reference broker. */
  readonly dataDir: string;
  /** Closes the broker; with `{ keepData: false }` also removes its data dir. */
  close(options?: { keepData?: boolean }): Promise<void>;
  /** Closes the broker and starts it again on the same data dir (new port). */
  restart(): Promise<void>;
  /** Wharf's embedding handle (alarms, HTTP port); throws under the reference broker. */
  readonly handle: BrokerHandle;
}

export type TestBrokerOptions = Omit<BrokerOptions, 'dataDir' | 'amqpPort' | 'httpPort' | 'bind'>;

/**
 * Starts Wharf in this process on free ports with a fresh data dir, or returns
 * the reference broker when WHARF_TEST_REFERENCE_URL is set.
 */
export async function startTestBroker(opts: TestBrokerOptions = {}): Promise<TestBroker> {
  if (referenceUrl !== undefined) return referenceBroker(referenceUrl);
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-it-'));
  let handle = await startWharf(dataDir, opts);
  let removed = false;
  return {
    get url() {
      return loopbackUrl(handle);
    },
    get host() {
      return '127.0.0.1';
    },
    get port() {
      return handle.amqpPort;
    },
    dataDir,
    async close(options = {}) {
      await handle.close();
      if (options.keepData !== true && !removed) {
        removed = true;
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    async restart() {
      await handle.close();
      handle = await startWharf(dataDir, opts);
    },
    get handle() {
      return handle;
    },
  };
}

async function startWharf(dataDir: string, opts: TestBrokerOptions): Promise<BrokerHandle> {
  // Imported lazily so that a reference run never loads Wharf.
  const { startBroker } = await import('../../src/index.js');
  return withTimeout(
    startBroker({ logLevel: 'warn', ...opts, dataDir, amqpPort: 0, httpPort: 0, kafkaPort: 0, bind: '127.0.0.1' }),
    BROKER_START_TIMEOUT_MS,
    'startBroker',
  );
}

function loopbackUrl(handle: BrokerHandle): string {
  return `amqp://guest:guest@127.0.0.1:${handle.amqpPort}`;
}

function referenceBroker(url: string): TestBroker {
  const parsed = new URL(url);
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 5672),
    dataDir: '',
    async close() {},
    async restart() {
      throw new Error('restart() is not available against the reference broker; skip with skipUnderReference');
    },
    get handle(): BrokerHandle {
      throw new Error('handle is Wharf\'s own; skip with skipUnderReference');
    },
  };
}

/** Creates a fresh empty directory for a spawned broker's data. */
export function makeDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'wharf-it-'));
}

export interface SpawnedBroker {
  readonly url: string;
  readonly port: number;
  readonly httpPort: number;
  readonly kafkaPort: number;
  /** With --tls-cert: the AMQPS port, and the HTTPS one with --https-port. */
  readonly amqpsPort: number | undefined;
  readonly httpsPort: number | undefined;
  /** host:port for Kafka clients. */
  readonly kafkaBootstrap: string;
  /** The AWS APIs' port (SQS, SNS). */
  readonly awsPort: number;
  readonly process: ChildProcess;
  /** Sends the signal; resolves with the exit code (null when killed by a signal). */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process has exited (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Everything the child wrote to stderr so far (for failure messages). */
  stderr(): string;
}

const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const LISTENING_LINE = /^wharf listening amqp=(\S+):(\d+) http=(\S+):(\d+) kafka=(\S+):(\d+)(?: amqps=\S+:(\d+))?(?: https=\S+:(\d+))?(?: kafka-tls=\S+:\d+)?(?: aws=\S+:(\d+))?\s*$/m;

export interface SpawnOptions {
  /** The address it binds and clients use (127.0.0.1). */
  readonly host?: string;
  /** A command it runs under, e.g. `ip netns exec NS` (none). */
  readonly wrap?: readonly string[];
  /** How long it may take to print its listening line (10 s). */
  readonly startTimeoutMs?: number;
}

/**
 * Runs `wharf serve` as a child process on free loopback ports (for kill -9
 * crash tests) and resolves once it prints its listening line.
 */
export async function spawnBroker(dataDir: string, extraArgs: string[] = [], options: SpawnOptions = {}): Promise<SpawnedBroker> {
  if (isReference) throw new Error('spawnBroker runs Wharf itself; skip with skipUnderReference');
  const host = options.host ?? '127.0.0.1';
  const [file = process.execPath, ...args] = [
    ...(options.wrap ?? []),
    process.execPath,
    cliPath, 'serve',
    '--data-dir', dataDir,
    '--amqp-port', '0',
    '--http-port', '0',
    '--kafka-port', '0',
    '--aws-port', '0',
    '--bind', host,
    '--log-level', 'warn',
    ...extraArgs,
  ];
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  const listening = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = LISTENING_LINE.exec(stdout);
      if (m) resolve(m);
    });
    child.once('error', reject);
    void exited.then((code) =>
      reject(new Error(`wharf exited with ${code} before listening\nstdout: ${stdout}\nstderr: ${stderr}`)));
  });
  let match: RegExpExecArray;
  try {
    match = await withTimeout(listening, options.startTimeoutMs ?? BROKER_START_TIMEOUT_MS, 'wharf listening line');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const port = Number(match[2]);
  return {
    url: `amqp://guest:guest@${host}:${port}`,
    port,
    httpPort: Number(match[4]),
    kafkaPort: Number(match[6]),
    amqpsPort: match[7] === undefined ? undefined : Number(match[7]),
    httpsPort: match[8] === undefined ? undefined : Number(match[8]),
    kafkaBootstrap: `${host}:${Number(match[6])}`,
    awsPort: Number(match[9]),
    process: child,
    exited,
    stderr: () => stderr,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return withTimeout(exited, BROKER_START_TIMEOUT_MS, `wharf exit after ${signal}`);
    },
  };
}
