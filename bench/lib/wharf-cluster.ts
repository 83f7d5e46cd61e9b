// A Wharf cluster for bench/cluster-compare, built as `wharf cluster dev` builds
// one: a private etcd (src/cluster/etcd-process.ts) and N `wharf serve --cluster`
// children (bench/lib/wharf-child.ts) named n1..nN on kernel-picked loopback ports,
// each with its own temporary data dir. Registered with bench/lib/cleanup.ts: the
// nodes, then etcd, stop however the bench ends, and the dirs go.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcd } from '../../src/cluster/etcd-process.js';
import { onCleanup } from './cleanup.js';
import { startWharf, stopWharf, type WharfChild } from './wharf-child.js';

export interface WharfNode {
  /** n1, n2, ... (its --node-name) */
  readonly name: string;
  readonly child: WharfChild;
  readonly dataDir: string;
  killed: boolean;
}

export interface WharfCluster {
  readonly nodes: readonly WharfNode[];
  readonly leaseTtlSec: number;
  /** kill -9 of the node's process. */
  kill(name: string): void;
  stop(): Promise<void>;
}

/** `cliPath`: another build's dist/src/cli/main.js instead of this one's (undefined: this one). */
export async function startWharfCluster(baseDir: string, count: number, leaseTtlSec: number, cliPath?: string): Promise<WharfCluster> {
  const etcd = await startEtcd();
  const nodes: WharfNode[] = [];
  const dirs: string[] = [];
  const killAll = (): void => {
    for (const n of nodes) if (!n.killed) n.child.proc.kill('SIGKILL');
  };
  const removeDirs = (): void => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  const stop = onCleanup(
    'wharf cluster',
    async () => {
      await Promise.all(nodes.filter((n) => !n.killed && n.child.proc.exitCode === null).map((n) => stopWharf(n.child, 'SIGTERM')));
      await etcd.stop();
      removeDirs();
    },
    () => {
      killAll();
      try {
        process.kill(etcd.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      removeDirs();
    },
  );
  try {
    for (let i = 1; i <= count; i++) {
      const name = `n${i}`;
      const dataDir = mkdtempSync(join(baseDir, `wharf-cluster-${name}-`));
      dirs.push(dataDir);
      const serveArgs = ['--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(leaseTtlSec)];
      const child = await startWharf(dataDir, [], serveArgs, cliPath);
      nodes.push({ name, child, dataDir, killed: false });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    leaseTtlSec,
    kill(name: string): void {
      const n = nodes.find((x) => x.name === name);
      if (n === undefined) throw new Error(`no node ${name}`);
      n.child.proc.removeAllListeners('exit');
      n.child.proc.kill('SIGKILL');
      n.killed = true;
    },
    stop,
  };
}
