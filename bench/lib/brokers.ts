// Starts the three endpoints the comparison drives, each as a child process
// on ports picked by the kernel (never RabbitMQ's standard ones) with its own
// temporary directory, and stops it again: Wharf (the CLI's `serve`),
// RabbitMQ (Debian's rabbitmq-server, as root with HOME set, its own epmd on
// a private port) and the byte-forwarding ceiling (bench/ceiling.ts). Every
// start registers a cleanup (bench/lib/cleanup.ts), so a failure or Ctrl-C
// still stops the broker, its epmd and removes its directory.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { freePorts } from './ports.js';
import { findDescendant } from './proc.js';
import { RABBITMQ_SERVER } from './rabbitmq-install.js';

export type BrokerKind = 'wharf' | 'rabbitmq' | 'ceiling' | 'kafka-ceiling';

export interface RunningBroker {
  readonly kind: BrokerKind;
  readonly url: string;
  /** host:port of its Kafka listener (Wharf and the Kafka ceiling). */
  readonly kafkaBootstrap?: string;
  /** The process whose RSS and CPU are the broker's (beam.smp for RabbitMQ). */
  readonly pid: number;
  /** The management API's port (Wharf: its HTTP port; RabbitMQ: only when started with `management`). */
  readonly httpPort?: number;
  /** Where GET /metrics is served (Wharf: the HTTP port; RabbitMQ: its prometheus plugin's port). */
  readonly metricsPort?: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** RabbitMQ: enable the management and prometheus plugins (bench/management.ts). */
  readonly management?: boolean;
  /** Wharf: run this build's dist/src/cli/main.js instead of this one (A/B against another commit). */
  readonly wharfCli?: string;
}

const WHARF_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CEILING = fileURLToPath(new URL('../ceiling.js', import.meta.url));
const KAFKA_CEILING = fileURLToPath(new URL('../kafka-ceiling.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

export function startBroker(kind: BrokerKind, baseDir: string, opts: StartOptions = {}): Promise<RunningBroker> {
  switch (kind) {
    case 'wharf':
      return startWharf(baseDir, opts.wharfCli ?? WHARF_CLI);
    case 'rabbitmq':
      return startRabbitmq(baseDir, opts.management === true);
    case 'ceiling':
      return startCeiling();
    case 'kafka-ceiling':
      return startKafkaCeiling();
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after the timeout; `group` signals the whole process group. */
async function terminate(child: ChildProcess, group: boolean): Promise<void> {
  const pid = child.pid as number;
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(group ? -pid : pid, s);
    } catch {
      // already gone
    }
  };
  const done = exited(child);
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)));
  if ((await Promise.race([done, timeout])) === 'timeout') {
    signal('SIGKILL');
    await done;
  }
  clearTimeout(timer);
}

/** Resolves with the first match of `pattern` in the child's stdout. */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${START_TIMEOUT_MS} ms\n${out}${err}`)), START_TIMEOUT_MS);
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before listening\n${out}${err}`));
    });
  });
}

type Endpoints = Pick<RunningBroker, 'url' | 'kafkaBootstrap'>;

const amqpOnly = (m: RegExpExecArray): Endpoints => ({ url: `amqp://guest:guest@127.0.0.1:${m[1]}` });

async function startNodeChild(kind: BrokerKind, args: string[], dir: string | undefined, pattern: RegExp, endpoints: (m: RegExpExecArray) => Endpoints = amqpOnly): Promise<RunningBroker> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = onCleanup(
    kind,
    async () => {
      await terminate(child, false);
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
    () => {
      child.kill('SIGKILL');
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  );
  try {
    const m = await waitForLine(child, pattern, kind);
    child.stdout?.resume();
    const http = m[2] === undefined ? {} : { httpPort: Number(m[2]), metricsPort: Number(m[2]) };
    return { kind, ...endpoints(m), pid: child.pid as number, stop, ...http };
  } catch (err) {
    await stop();
    throw err;
  }
}

function startWharf(baseDir: string, cli: string): Promise<RunningBroker> {
  const dir = mkdtempSync(join(baseDir, 'wharf-'));
  const args = [cli, 'serve', '--amqp-port', '0', '--http-port', '0', '--kafka-port', '0', '--aws-port', '0', '--data-dir', dir, '--bind', '127.0.0.1', '--log-level', 'warn'];
  // m[2] is the HTTP port (management API, /metrics), m[3] Kafka's.
  return startNodeChild('wharf', args, dir, /wharf listening amqp=\S*:(\d+) http=\S*:(\d+) kafka=\S*:(\d+)/, (m) => ({
    url: `amqp://guest:guest@127.0.0.1:${m[1]}`,
    kafkaBootstrap: `127.0.0.1:${m[3]}`,
  }));
}

function startCeiling(): Promise<RunningBroker> {
  return startNodeChild('ceiling', [CEILING, '--port', '0'], undefined, /ceiling listening amqp=\S*:(\d+)/);
}

function startKafkaCeiling(): Promise<RunningBroker> {
  return startNodeChild('kafka-ceiling', [KAFKA_CEILING, '--port', '0'], undefined, /kafka-ceiling listening kafka=\S*:(\d+)/, (m) => ({
    url: '',
    kafkaBootstrap: `127.0.0.1:${m[1]}`,
  }));
}

/** The environment that puts every RabbitMQ file and port under our control. */
export function rabbitmqEnv(dir: string, ports: { amqp: number; dist: number; epmd: number }, nodeName = 'wharfbench@localhost'): Record<string, string> {
  return {
    HOME: dir,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(ports.amqp),
    RABBITMQ_DIST_PORT: String(ports.dist),
    ERL_EPMD_PORT: String(ports.epmd),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
}

/** Stops the epmd on `env`'s ERL_EPMD_PORT. */
export function killEpmd(env: Record<string, string>): void {
  spawnSync('epmd', ['-kill'], { stdio: 'ignore', env: { ...process.env, ...env } });
}

async function startRabbitmq(baseDir: string, management: boolean): Promise<RunningBroker> {
  const dir = mkdtempSync(join(baseDir, 'rabbitmq-'));
  const [amqp, dist, epmd, http, prometheus] = await freePorts(5);
  const env = rabbitmqEnv(dir, { amqp, dist, epmd });
  let conf = `listeners.tcp.1 = 127.0.0.1:${amqp}\nloopback_users = none\n`;
  if (management) {
    conf += `management.tcp.port = ${http}\nmanagement.tcp.ip = 127.0.0.1\nprometheus.tcp.port = ${prometheus}\nprometheus.tcp.ip = 127.0.0.1\n`;
  }
  writeFileSync(env.RABBITMQ_CONFIG_FILE, conf);
  writeFileSync(env.RABBITMQ_ENABLED_PLUGINS_FILE, management ? '[rabbitmq_management,rabbitmq_prometheus].\n' : '[].\n');
  const logFd = openSync(join(dir, 'stdout.log'), 'a');
  // detached: the start script and beam.smp form one process group we can signal as a whole.
  const child = spawn(RABBITMQ_SERVER, [], { cwd: dir, detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, ...env } });
  closeSync(logFd);
  let beamPid: number | undefined;
  const stop = onCleanup(
    'rabbitmq',
    async () => {
      if (beamPid !== undefined) {
        try {
          process.kill(beamPid, 'SIGTERM'); // beam.smp shuts the node down cleanly on SIGTERM
        } catch {
          // already gone
        }
      }
      await terminate(child, true);
      killEpmd(env);
      rmSync(dir, { recursive: true, force: true });
    },
    () => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
      if (beamPid !== undefined) {
        try {
          process.kill(beamPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      killEpmd(env);
      rmSync(dir, { recursive: true, force: true });
    },
  );
  try {
    await waitForAmqp(amqp, child, join(dir, 'stdout.log'));
    beamPid = findDescendant(child.pid as number, 'beam.smp');
    if (beamPid === undefined) throw new Error('RabbitMQ accepts AMQP but no beam.smp process was found under it');
    const ports = management ? { httpPort: http, metricsPort: prometheus } : {};
    return { kind: 'rabbitmq', url: `amqp://guest:guest@127.0.0.1:${amqp}`, pid: beamPid, stop, ...ports };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls until the port answers the AMQP protocol header with connection.start (a method frame). */
export async function waitForAmqp(port: number, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`rabbitmq-server exited with ${child.exitCode}:\n${readFileSync(logPath, 'utf8').slice(-2000)}`);
    if (await answersAmqp(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`RabbitMQ did not accept AMQP on port ${port} within ${START_TIMEOUT_MS} ms`);
}

function answersAmqp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')));
    socket.once('data', (chunk: Buffer) => done(chunk[0] === 1));
  });
}
