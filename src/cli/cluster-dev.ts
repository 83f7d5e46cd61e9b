// `wharf cluster dev --nodes N`: a private etcd and N `wharf serve --cluster`
// processes on free loopback ports with temporary data dirs, for trying a cluster
// out. Prints where each node listens; Ctrl-C (or SIGTERM) stops every node, then
// etcd, and removes the data dirs.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcd, type EtcdProcess } from '../cluster/etcd-process.js';
import type { AdminIo } from './admin/options.js';
import { VerbFailure } from './admin/options.js';
import { statusTable } from './admin/cluster.js';

const cliPath = fileURLToPath(new URL('./main.js', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const LISTENING = /^wharf listening amqp=(\S+) http=(\S+) kafka=(\S+)/m;

interface DevNode {
  readonly name: string;
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly exited: Promise<void>;
  amqp: string;
  http: string;
  kafka: string;
}

export async function runClusterDev(count: number, io: AdminIo): Promise<void> {
  let etcd: EtcdProcess;
  try {
    etcd = await startEtcd();
  } catch (err) {
    throw new VerbFailure(`cannot start etcd (Debian's etcd-server, /usr/bin/etcd): ${(err as Error).message.split('\n')[0]}`);
  }
  io.stdout(`etcd ${etcd.endpoint} (data ${etcd.dataDir})\n`);
  const nodes: DevNode[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGTERM');
      await Promise.all(nodes.map((n) => n.exited));
      await etcd.stop();
      await Promise.all(nodes.map((n) => rm(n.dataDir, { recursive: true, force: true })));
    })());
  const done = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      io.stdout('stopping the cluster\n');
      void stopAll().then(resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  try {
    for (let i = 1; i <= count; i++) nodes.push(await startNode(`n${i}`, etcd.endpoint, io));
  } catch (err) {
    await stopAll();
    throw err;
  }
  for (const n of nodes) {
    void n.exited.then(() => {
      if (stopping === undefined) io.stderr(`node ${n.name} exited (code ${n.child.exitCode ?? n.child.signalCode})\n`);
    });
  }
  io.stdout(statusTable(nodes.map((n) => ({ name: n.name, running: true, addresses: { amqp: n.amqp, kafka: n.kafka, http: n.http } }))));
  io.stdout(`try: wharf cluster status --url http://${nodes[0]?.http}  (Ctrl-C stops every node and etcd)\n`);
  await done;
}

async function startNode(name: string, endpoint: string, io: AdminIo): Promise<DevNode> {
  const dataDir = await mkdtemp(join(tmpdir(), `wharf-dev-${name}-`));
  const child = spawn(
    process.execPath,
    [
      cliPath, 'serve',
      '--data-dir', dataDir,
      '--bind', '127.0.0.1',
      '--amqp-port', '0', '--http-port', '0', '--kafka-port', '0', '--aws-port', '0',
      '--cluster', endpoint, '--node-name', name, '--advertise-host', '127.0.0.1',
    ],
    // Ctrl-C reaches the whole process group; the nodes are stopped in order by stopAll instead.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => io.stderr(s.replace(/^(?=.)/gm, `[${name}] `)));
  let out = '';
  const listening = await new Promise<RegExpExecArray | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), START_TIMEOUT_MS);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = LISTENING.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  if (listening === undefined) {
    child.kill('SIGKILL');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
    throw new VerbFailure(`node ${name} did not start`);
  }
  return { name, child, dataDir, exited, amqp: listening[1], http: listening[2], kafka: listening[3] };
}
