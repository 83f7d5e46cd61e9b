// A three-node RabbitMQ cluster on loopback for bench/cluster-compare: Debian's
// rabbitmq-server started three times (rabbit1@localhost ...), each with its own
// AMQP, distribution and management ports (kernel-picked, never the standard ones),
// its own data and log dirs and HOME under one temporary dir, one shared Erlang
// cookie and one private epmd; then `rabbitmqctl join_cluster` makes nodes 2 and 3
// join node 1, as RabbitMQ's clustering guide does it by hand. Everything is
// registered with bench/lib/cleanup.ts, so a failure or Ctrl-C still stops every
// beam.smp and the epmd and removes the dir.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killEpmd, rabbitmqEnv, waitForAmqp } from './brokers.js';
import { onCleanup } from './cleanup.js';
import { freePorts } from './ports.js';
import { findDescendant } from './proc.js';
import { RABBITMQ_SERVER } from './rabbitmq-install.js';

const RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const CTL_TIMEOUT_MS = 120_000;

export interface RabbitNode {
  /** rabbitN@localhost */
  readonly name: string;
  readonly url: string;
  readonly amqpPort: number;
  readonly httpPort: number;
  readonly dir: string;
  readonly env: Record<string, string>;
  /** beam.smp's pid (the node itself); undefined while it is not running. */
  beamPid: number | undefined;
  child: ChildProcess;
}

export interface RabbitCluster {
  readonly nodes: readonly RabbitNode[];
  /** kill -9 of the node's beam.smp (what a crash of the node is). */
  kill(name: string): void;
  stop(): Promise<void>;
}

function signal(pid: number | undefined, s: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, s);
  } catch {
    // already gone
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Runs rabbitmqctl against `node` with node 1's HOME (the cookie) and the private epmd; throws with its output on failure. */
function rabbitmqctl(env: Record<string, string>, node: string, args: string[]): string {
  const r = spawnSync(RABBITMQCTL, ['-n', node, ...args], { encoding: 'utf8', timeout: CTL_TIMEOUT_MS, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`rabbitmqctl -n ${node} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().slice(-1000)}`);
  return r.stdout;
}

function spawnNode(node: RabbitNode): void {
  const logFd = openSync(join(node.dir, 'stdout.log'), 'a');
  // detached: the start script and beam.smp form one process group we can signal as a whole.
  node.child = spawn(RABBITMQ_SERVER, [], { cwd: node.dir, detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, ...node.env } });
  closeSync(logFd);
}

async function waitNode(node: RabbitNode): Promise<void> {
  await waitForAmqp(node.amqpPort, node.child, join(node.dir, 'stdout.log'));
  node.beamPid = findDescendant(node.child.pid as number, 'beam.smp');
  if (node.beamPid === undefined) throw new Error(`${node.name} accepts AMQP but no beam.smp process was found under it`);
}

/** Starts `count` nodes and clusters them; resolves once every node accepts AMQP as a member of node 1's cluster. */
export async function startRabbitCluster(baseDir: string, count: number, log: (line: string) => void): Promise<RabbitCluster> {
  const root = mkdtempSync(join(baseDir, 'rabbitmq-cluster-'));
  const [epmd, ...ports] = await freePorts(1 + 3 * count);
  const cookie = randomBytes(20).toString('hex').toUpperCase();
  const nodes: RabbitNode[] = [];
  for (let i = 0; i < count; i++) {
    const [amqp, dist, http] = ports.slice(3 * i, 3 * i + 3);
    const name = `rabbit${i + 1}@localhost`;
    const dir = join(root, `rabbit${i + 1}`);
    mkdirSync(dir);
    const env = rabbitmqEnv(dir, { amqp, dist, epmd }, name);
    writeFileSync(join(dir, '.erlang.cookie'), cookie, { mode: 0o400 });
    writeFileSync(env.RABBITMQ_CONFIG_FILE, `listeners.tcp.1 = 127.0.0.1:${amqp}\nloopback_users = none\nmanagement.tcp.port = ${http}\nmanagement.tcp.ip = 127.0.0.1\n`);
    writeFileSync(env.RABBITMQ_ENABLED_PLUGINS_FILE, '[rabbitmq_management].\n');
    nodes.push({ name, url: `amqp://guest:guest@127.0.0.1:${amqp}`, amqpPort: amqp, httpPort: http, dir, env, beamPid: undefined, child: undefined as unknown as ChildProcess });
  }
  const ctlEnv = nodes[0].env;
  const stopNow = (): void => {
    for (const n of nodes) {
      if (n.child !== undefined) signal(-(n.child.pid as number), 'SIGKILL');
      signal(n.beamPid, 'SIGKILL');
    }
    killEpmd(ctlEnv);
    rmSync(root, { recursive: true, force: true });
  };
  const stop = onCleanup(
    'rabbitmq cluster',
    async () => {
      for (const n of nodes) signal(n.beamPid, 'SIGTERM'); // beam.smp shuts the node down cleanly on SIGTERM
      const all = Promise.all(nodes.filter((n) => n.child !== undefined).map((n) => exited(n.child)));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 30_000)));
      await Promise.race([all, timeout]);
      clearTimeout(timer);
      stopNow();
    },
    stopNow,
  );
  try {
    // One epmd for the three, on a private port, started before the nodes race to start it.
    spawnSync('epmd', ['-daemon', '-address', '127.0.0.1', '-port', String(epmd)], { stdio: 'ignore', env: { ...process.env, ...ctlEnv } });
    for (const n of nodes) spawnNode(n);
    await Promise.all(nodes.map(waitNode));
    log(`rabbitmq: ${count} nodes up; clustering`);
    for (const n of nodes.slice(1)) {
      rabbitmqctl(ctlEnv, n.name, ['stop_app']);
      rabbitmqctl(ctlEnv, n.name, ['join_cluster', nodes[0].name]);
      rabbitmqctl(ctlEnv, n.name, ['start_app']);
      await waitNode(n);
    }
    const running = runningNodes(rabbitmqctl(ctlEnv, nodes[0].name, ['cluster_status', '--formatter', 'json']));
    if (running.length !== count) throw new Error(`rabbitmq cluster formed with ${running.length} running nodes (${running.join(', ')}), expected ${count}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    kill(name: string): void {
      const n = nodes.find((x) => x.name === name);
      if (n === undefined) throw new Error(`no node ${name}`);
      signal(n.beamPid, 'SIGKILL');
      n.beamPid = undefined;
    },
    stop,
  };
}

/** `rabbitmqctl cluster_status --formatter json` -> its running_nodes (empty when the output has none). */
export function runningNodes(json: string): string[] {
  const start = json.indexOf('{');
  if (start < 0) return [];
  const parsed = JSON.parse(json.slice(start)) as { running_nodes?: unknown };
  return Array.isArray(parsed.running_nodes) ? parsed.running_nodes.filter((x): x is string => typeof x === 'string') : [];
}
