// A private etcd for `wharf cluster dev` and the tests: Debian's /usr/bin/etcd on
// free loopback ports with a temporary data dir, removed when it stops. The Jepsen-style
// runner starts it on another address inside a network namespace of its own (`wrap`), and its
// nemesis crashes it (kill -9) and starts it again on the same data dir and ports (`restart`).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = process.env.WHARF_ETCD_BINARY ?? '/usr/bin/etcd';
const START_TIMEOUT_MS = 20_000;

export interface EtcdProcess {
  /** The client URL, http://HOST:PORT (127.0.0.1 unless started on another host). */
  readonly endpoint: string;
  readonly dataDir: string;
  /** The running process's id (a new one after restart()). */
  readonly pid: number;
  /** Everything etcd wrote to stderr (its log), for failure messages. */
  log(): string;
  /** kill -9 (a crash): the data dir stays, for restart(). */
  crash(): Promise<void>;
  /** Starts it again on the same data dir and ports (after crash()); resolves once /health answers. */
  restart(): Promise<void>;
  /** Kills etcd (SIGTERM, then SIGKILL) and removes its data dir. */
  stop(): Promise<void>;
}

/** A port the kernel reports free on 127.0.0.1 (closed again before it is used). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface EtcdStartOptions {
  /** The address etcd listens on (127.0.0.1). */
  readonly host?: string;
  /** A command etcd runs under, e.g. `ip netns exec NS` (none). */
  readonly wrap?: readonly string[];
}

/** Starts etcd and resolves once its /health answers; throws with etcd's log if it does not start. */
export async function startEtcd(options: EtcdStartOptions = {}): Promise<EtcdProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-etcd-'));
  const host = options.host ?? '127.0.0.1';
  // Free on loopback here; on another address, free in a namespace of its own as well.
  const clientPort = await freePort();
  const peerPort = await freePort();
  const client = `http://${host}:${clientPort}`;
  const peer = `http://${host}:${peerPort}`;
  const [command, ...prefix] = [...(options.wrap ?? []), ETCD_BINARY];
  const args = [
    ...prefix,
    '--name', 'wharf-dev',
    '--data-dir', dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `wharf-dev=${peer}`,
    '--logger', 'zap',
    '--log-level', 'warn',
  ];
  let log = '';
  const launch = (): { child: ChildProcess; exited: Promise<void> } => {
    const child = spawn(command ?? ETCD_BINARY, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' },
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      log = (log + s).slice(-20_000);
    });
    return { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
  };
  let run = launch();
  const stop = async (): Promise<void> => {
    await kill(run.child, run.exited);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(client, run.child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint: client,
    dataDir,
    get pid() {
      return run.child.pid ?? 0;
    },
    log: () => log,
    crash: async () => {
      if (run.child.exitCode !== null || run.child.signalCode !== null) return;
      run.child.kill('SIGKILL');
      await run.exited;
    },
    restart: async () => {
      if (run.child.exitCode === null && run.child.signalCode === null) throw new Error(`etcd at ${client} is still running; crash() it first`);
      run = launch();
      await waitHealthy(client, run.child, () => log);
    },
    stop,
  };
}

async function waitHealthy(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`etcd exited before it was healthy:\n${log()}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`etcd at ${url} not healthy after ${START_TIMEOUT_MS} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
