// A private network per Jepsen-style run (docs/cluster.md, "Proving it"): one network namespace
// per host (each node, and etcd), each with loopback up and one veth pair whose other end sits
// on a bridge in the root namespace, on an unused 10.x.y.0/24 chosen per run. The bridge holds
// x.y.1, so the test process (clients, checker) stays in the root namespace and reaches every
// host through it; the hosts get x.y.2 onwards. Faults act inside a host's namespace: iptables
// DROP rules (a cut from some addresses, both ways or inbound only), and a degraded link (tc
// netem delay when the kernel has it, else a tbf rate limit, with iptables' statistic match for
// random loss). Needs root, iproute2 and iptables.
//
// Everything is named wj<pid><n>-...: the namespaces wj<pid><n>-<host>, the bridge wj<pid><n>br
// and the root ends of the veth pairs wj<pid><n><host>, <n> a letter per network of the process
// (the kernel removes a deleted namespace's links a moment later: the next network must not
// collide with them). destroy() kills what runs in the namespaces and
// removes them and the bridge; it runs at exit and on SIGINT/SIGTERM as well, and every new
// network first sweeps what runs whose process is gone (kill -9) left behind.

import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

const PREFIX = 'wj';
const NAME_MAX = 15; // IFNAMSIZ - 1
/** Networks made by this process so far (each gets the next letter in its names). */
let networksMade = 0;

/** Faults that need more than the iptables and tc commands below. */
export class NetnsError extends Error {}

export interface DegradeOptions {
  /** Added delay and its jitter (netem only). */
  readonly delayMs: number;
  readonly jitterMs: number;
  /** Probability that a packet is dropped, each way. */
  readonly loss: number;
}

export interface NetnsNetwork {
  readonly subnet: string;
  /** The root namespace's address on the bridge: where the test's clients come from. */
  readonly hostAddress: string;
  address(host: string): string;
  /** The command prefix that runs a program in the host's namespace. */
  wrap(host: string): string[];
  /** Drops what `host` receives from each of `from` and, unless `inboundOnly`, what it sends them. */
  cut(host: string, from: readonly string[], inboundOnly?: boolean): void;
  /** Degrades the host's link both ways; says how ("netem ..." or "tbf ..."). */
  degrade(host: string, how: DegradeOptions): string;
  /** Removes every cut and degradation of the host's. */
  mend(host: string): void;
  /** Kills what still runs in the namespaces, removes them and the bridge. Synchronous, idempotent. */
  destroy(): void;
}

function run(args: readonly string[]): string {
  const [file = '', ...rest] = args;
  return execFileSync(file, rest, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(args: readonly string[]): boolean {
  try {
    run(args);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function namespaces(): string[] {
  return run(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

/** Kills (by id) every process left in a namespace of ours, then removes it. */
function removeNamespace(ns: string): void {
  const pids = tryPids(ns);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  tryRun(['ip', 'netns', 'del', ns]);
}

function tryPids(ns: string): number[] {
  try {
    return run(['ip', 'netns', 'pids', ns]).split('\n').filter((l) => l !== '').map(Number);
  } catch {
    return [];
  }
}

/** Removes the namespaces and links of runs whose process is gone (a run killed with kill -9). */
export function sweepStale(): void {
  const owner = new RegExp(`^${PREFIX}(\\d+)`);
  for (const ns of namespaces()) {
    const pid = Number(owner.exec(ns)?.[1] ?? NaN);
    if (Number.isInteger(pid) && /^wj\d+[a-z]?-/.test(ns) && !alive(pid)) removeNamespace(ns);
  }
  for (const line of run(['ip', '-o', 'link', 'show']).split('\n')) {
    const link = /^\d+: ([^:@]+)/.exec(line)?.[1];
    const pid = Number(owner.exec(link ?? '')?.[1] ?? NaN);
    if (link !== undefined && /^wj\d+[a-z]?br$/.test(link) && !alive(pid)) tryRun(['ip', 'link', 'del', link]);
  }
}

/** The IPv4 ranges in use in the root namespace, as [first, last] address numbers. */
function rangesInUse(): [number, number][] {
  const out: [number, number][] = [];
  const text = run(['ip', '-4', '-o', 'addr', 'show']) + run(['ip', '-4', 'route', 'show', 'table', 'all']);
  for (const m of text.matchAll(/(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?/g)) {
    const n = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
    const bits = Number(m[5] ?? 32);
    const size = 2 ** (32 - bits);
    const first = n - (n % size);
    out.push([first, first + size - 1]);
  }
  return out;
}

/** A 10.x.y.0/24 that overlaps no address or route here. */
function unusedSubnet(): [number, number] {
  const used = rangesInUse();
  for (let tries = 0; tries < 100; tries++) {
    const x = randomInt(16, 250);
    const y = randomInt(0, 256);
    const first = ((10 << 24) | (x << 16) | (y << 8)) >>> 0;
    if (!used.some(([lo, hi]) => lo <= first + 255 && first <= hi)) return [x, y];
  }
  throw new NetnsError('no unused 10.x.y.0/24 found for the private network');
}

function inNs(ns: string, args: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...args];
}

/**
 * Makes the network: a bridge and a namespace per host. Throws a NetnsError with the reason when
 * namespaces cannot be made here (not root, no iproute2, no iptables).
 */
export function createNetwork(hosts: readonly string[]): NetnsNetwork {
  const tag = `${PREFIX}${process.pid}${String.fromCharCode(97 + (networksMade++ % 26))}`;
  if (`${tag}br`.length > NAME_MAX || hosts.some((h) => `${tag}${h}`.length > NAME_MAX)) throw new NetnsError(`host names too long for interface names: ${hosts.join(', ')}`);
  for (const tool of [['ip', '-V'], ['iptables', '-V']]) {
    if (!tryRun(tool)) throw new NetnsError(`\`${tool[0]}\` is not installed or does not run: the network-namespace run needs iproute2 and iptables (apt-get install iproute2 iptables)`);
  }
  sweepStale();
  const [x, y] = unusedSubnet();
  const prefix = `10.${x}.${y}`;
  const bridge = `${tag}br`;
  const addresses = new Map(hosts.map((h, i) => [h, `${prefix}.${i + 2}`]));
  const nsOf = (h: string): string => `${tag}-${h}`;
  const made: string[] = [];
  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    for (const ns of made) removeNamespace(ns);
    tryRun(['ip', 'link', 'del', bridge]);
    process.off('exit', destroy);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    destroy();
    process.kill(process.pid, signal);
  };
  process.on('exit', destroy);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    run(['ip', 'addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
    run(['ip', 'link', 'set', bridge, 'up']);
    for (const h of hosts) {
      const ns = nsOf(h);
      run(['ip', 'netns', 'add', ns]);
      made.push(ns);
      run(['ip', 'link', 'add', `${tag}${h}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run(['ip', 'link', 'set', `${tag}${h}`, 'master', bridge]);
      run(['ip', 'link', 'set', `${tag}${h}`, 'up']);
      run(['ip', '-n', ns, 'addr', 'add', `${addresses.get(h)}/24`, 'dev', 'eth0']);
      run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      // iptables must work in the namespace before any fault needs it.
      run(inNs(ns, ['iptables', '-S']));
    }
  } catch (err) {
    destroy();
    const why = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new NetnsError(`cannot make the private network (needs root, iproute2 and iptables): ${why}`);
  }
  const addressOf = (h: string): string => {
    const a = addresses.get(h);
    if (a === undefined) throw new NetnsError(`no host ${h} in this network`);
    return a;
  };
  return {
    subnet: `${prefix}.0/24`,
    hostAddress: `${prefix}.1`,
    address: addressOf,
    wrap: (h) => inNs(nsOf(h), []),
    cut(h, from, inboundOnly = false) {
      for (const f of from) {
        run(inNs(nsOf(h), ['iptables', '-A', 'INPUT', '-s', addressOf(f), '-j', 'DROP']));
        if (!inboundOnly) run(inNs(nsOf(h), ['iptables', '-A', 'OUTPUT', '-d', addressOf(f), '-j', 'DROP']));
      }
    },
    degrade(h, how) {
      const ns = nsOf(h);
      const links: [string[], string][] = [[inNs(ns, ['tc']), 'eth0'], [['tc'], `${tag}${h}`]];
      let said: string;
      if (tryRun([...inNs(ns, ['tc']), 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'delay', `${how.delayMs}ms`, `${how.jitterMs}ms`, 'loss', `${how.loss * 100}%`])) {
        run(['tc', 'qdisc', 'replace', 'dev', `${tag}${h}`, 'root', 'netem', 'delay', `${how.delayMs}ms`, `${how.jitterMs}ms`, 'loss', `${how.loss * 100}%`]);
        said = `netem delay ${how.delayMs} ms ± ${how.jitterMs} ms, loss ${how.loss * 100}%`;
      } else {
        // No sch_netem in this kernel: a slow link (queues of up to 200 ms at 2 Mbit/s) and random loss.
        for (const [tc, dev] of links) run([...tc, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', '2mbit', 'burst', '32kbit', 'latency', '200ms']);
        for (const chain of ['INPUT', 'OUTPUT']) run(inNs(ns, ['iptables', '-A', chain, '-m', 'statistic', '--mode', 'random', '--probability', String(how.loss), '-j', 'DROP']));
        said = `tbf 2 Mbit/s (no netem in this kernel), loss ${how.loss * 100}% each way`;
      }
      return said;
    },
    mend(h) {
      const ns = nsOf(h);
      run(inNs(ns, ['iptables', '-F']));
      tryRun(inNs(ns, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']));
      tryRun(['tc', 'qdisc', 'del', 'dev', `${tag}${h}`, 'root']);
    },
    destroy,
  };
}
