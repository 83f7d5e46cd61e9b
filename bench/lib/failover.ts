// The leader-kill measurement of bench/cluster-compare, one client for every
// system (amqplib): a publisher with confirms (a window of W unconfirmed, each body
// carrying a sequence number) runs on a connection to the queue's leader; the
// leader's process is killed with SIGKILL; the publisher reconnects as a client
// with the three addresses would (the next address, then the next, 100 ms apart),
// declares the queue again, re-sends what was unconfirmed and goes on; a link with
// no confirm for a while is given up the same way (a confirm timeout). Measured
// from the kill: the first confirm on the new connection, and (where the system
// names one) the queue's new leader. Then a consumer on the surviving node drains
// the queue and counts the confirmed sequence numbers that did not come back.

import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { sleep, withTimeout } from '../../test/helpers/async.js';

export interface FailoverNode {
  readonly name: string;
  readonly url: string;
}

export interface FailoverOptions {
  /** Every node; the publisher starts on `leader` and moves to the next on failure. */
  readonly nodes: readonly FailoverNode[];
  readonly leader: string;
  readonly queue: string;
  readonly queueArguments: Record<string, unknown>;
  readonly sizeBytes: number;
  readonly window: number;
  /** Publishing before the kill. */
  readonly beforeKillMs: number;
  /** Publishing after the first confirm on the new connection. */
  readonly afterRecoveryMs: number;
  /** A link with messages outstanding and no confirm for this long is closed and replaced. */
  readonly confirmTimeoutMs: number;
  /** Give up waiting for a confirm or a leader after this long from the kill. */
  readonly deadlineMs: number;
  /** kill -9 of `leader`'s process. */
  kill(): void;
  /** The queue's leader as the system reports it, asked of the nodes still up; undefined while there is none or the system names none. */
  leaderNow(alive: readonly FailoverNode[]): Promise<string | undefined>;
  /** False when the system names no leader for the queue (Wharf before replicated queues): no polling then. */
  readonly namesLeader: boolean;
  readonly log: (line: string) => void;
}

export interface FailoverResult {
  readonly confirmedBeforeKill: number;
  /** Kill -> connection, channel and queue declare done on a surviving node. */
  readonly reconnectMs: number | undefined;
  /** Kill -> the first confirm on that connection. */
  readonly firstConfirmMs: number | undefined;
  /** Kill -> the system names a leader other than the one killed; undefined if it never did (or names none). */
  readonly newLeaderMs: number | undefined;
  readonly newLeader: string | undefined;
  readonly survivor: string | undefined;
  readonly confirmedTotal: number;
  /** Confirmed messages (distinct sequence numbers) the drain on the survivor did not return. */
  readonly lostConfirmed: number;
  readonly drained: number;
  /** Links given up for want of a confirm (confirmTimeoutMs). */
  readonly confirmTimeouts: number;
}

const RECONNECT_PAUSE_MS = 100;
const OPEN_TIMEOUT_MS = 5_000;
const DRAIN_IDLE_MS = 2_000;

const now = (): number => performance.now();

interface Link {
  readonly node: FailoverNode;
  readonly conn: ChannelModel;
  readonly ch: ConfirmChannel;
  readonly generation: number;
  down: boolean;
  /** The first error the connection or channel reported. */
  why?: unknown;
}

class Publisher {
  private seq = 0;
  readonly confirmed = new Set<number>();
  /** Sent on the current link and not settled yet. */
  private readonly unconfirmed = new Set<number>();
  /** To send again first (unsettled when a link went down, or nacked). */
  private readonly resend: number[] = [];
  private link: Link | undefined;
  private generation = 0;
  private wake: (() => void) | undefined;
  stopped = false;
  /** performance.now() of the first confirm on a link of generation >= firstConfirmGeneration. */
  firstConfirmAt: number | undefined;
  firstConfirmGeneration = Number.MAX_SAFE_INTEGER;
  /** When the current link opened or last had a publish confirmed. */
  private progressAt = 0;
  confirmTimeouts = 0;

  constructor(private readonly o: FailoverOptions) {}

  /**
   * A link with messages outstanding and no confirm for confirmTimeoutMs is given up
   * (closed; its unconfirmed messages are sent again on the next), as a client with a
   * confirm timeout does (RabbitMQ's PerfTest has --confirm-timeout).
   */
  checkConfirmTimeout(): void {
    const link = this.link;
    if (link === undefined || this.unconfirmed.size === 0 || now() - this.progressAt < this.o.confirmTimeoutMs) return;
    this.confirmTimeouts++;
    this.linkDown(link, new Error(`no confirm for ${this.o.confirmTimeoutMs} ms with ${this.unconfirmed.size} outstanding`));
  }

  get current(): Link | undefined {
    return this.link;
  }

  async open(node: FailoverNode): Promise<Link> {
    const conn = await withTimeout(amqp.connect(node.url), OPEN_TIMEOUT_MS, `a connection to ${node.name}`);
    conn.on('error', () => undefined);
    try {
      const ch = await withTimeout(conn.createConfirmChannel(), OPEN_TIMEOUT_MS, 'channel.open');
      ch.on('error', () => undefined);
      await withTimeout(ch.assertQueue(this.o.queue, { durable: true, arguments: this.o.queueArguments }), OPEN_TIMEOUT_MS, 'queue.declare');
      const link: Link = { node, conn, ch, generation: ++this.generation, down: false };
      const onDown = (err?: unknown): void => this.linkDown(link, err);
      conn.once('close', onDown);
      ch.once('close', onDown);
      conn.on('error', (err: unknown) => (link.why ??= err));
      ch.on('error', (err: unknown) => (link.why ??= err));
      this.link = link;
      this.progressAt = now();
      this.pokePump();
      return link;
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  private linkDown(link: Link, err: unknown): void {
    if (link.down) return;
    link.down = true;
    const why = link.why ?? err;
    if (!this.stopped) this.o.log(`  link to ${link.node.name} down${why instanceof Error ? `: ${why.message}` : ''}`);
    if (this.link === link) this.link = undefined;
    for (const s of this.unconfirmed) this.resend.push(s);
    this.unconfirmed.clear();
    void link.conn.close().catch(() => undefined);
    this.pokePump();
  }

  private pokePump(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private body(seq: number): Buffer {
    const b = Buffer.alloc(Math.max(8, this.o.sizeBytes));
    b.writeUInt32LE(seq, 0);
    return b;
  }

  /** Publishes until stopped, pausing while there is no link or the window is full. */
  async pump(): Promise<void> {
    while (!this.stopped) {
      const link = this.link;
      if (link === undefined || this.unconfirmed.size >= this.o.window) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      const seq = this.resend.shift() ?? ++this.seq;
      this.unconfirmed.add(seq);
      const ok = link.ch.publish('', this.o.queue, this.body(seq), { persistent: true }, (err: unknown) => this.settled(link, seq, err));
      // The write buffer is full: wait for 'drain', or for the link to go down (a dead socket never drains).
      if (!ok) await new Promise<void>((r) => ((this.wake = r), link.ch.once('drain', () => r())));
      else if ((seq & 63) === 0) await new Promise((r) => setImmediate(r));
    }
  }

  private settled(link: Link, seq: number, err: unknown): void {
    if (link.down || !this.unconfirmed.delete(seq)) return;
    if (err) this.resend.push(seq);
    else {
      this.progressAt = now();
      this.confirmed.add(seq);
      if (this.firstConfirmAt === undefined && link.generation >= this.firstConfirmGeneration) this.firstConfirmAt = now();
    }
    if (this.unconfirmed.size <= this.o.window / 2) this.pokePump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pokePump();
    const link = this.link;
    if (link === undefined) return;
    await withTimeout(link.ch.waitForConfirms(), 30_000, 'the last confirms').catch(() => undefined);
    await link.conn.close().catch(() => undefined);
  }
}

/**
 * Keeps the publisher connected until it stops: whenever its link is down, opens the
 * node after the last one tried, 100 ms apart. Resolves with the kill-relative time of
 * the first link opened after the kill (read through `openedAt`).
 */
async function keepConnected(p: Publisher, o: FailoverOptions, from: string, deadline: number, onOpen: (link: Link) => void): Promise<void> {
  let i = o.nodes.findIndex((n) => n.name === from);
  while (!p.stopped && now() < deadline) {
    if (p.current !== undefined) {
      await sleep(50);
      p.checkConfirmTimeout();
      continue;
    }
    i = (i + 1) % o.nodes.length;
    try {
      onOpen(await p.open(o.nodes[i]));
    } catch (err) {
      o.log(`  reconnect to ${o.nodes[i].name} failed: ${(err as Error).message.split('\n')[0]}`);
      await sleep(RECONNECT_PAUSE_MS);
    }
  }
}

async function pollLeader(o: FailoverOptions, alive: readonly FailoverNode[], killedAt: number, deadline: number): Promise<{ ms: number; leader: string } | undefined> {
  while (now() < deadline) {
    const leader = await o.leaderNow(alive).catch(() => undefined);
    if (leader !== undefined && leader !== o.leader) return { ms: now() - killedAt, leader };
    await sleep(100);
  }
  return undefined;
}

/** Consumes `queue` on `node` until nothing arrives for a while; the sequence numbers seen. */
async function drain(node: FailoverNode, queue: string): Promise<Set<number>> {
  const seen = new Set<number>();
  const conn = await amqp.connect(node.url);
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.prefetch(1000);
    let last = now();
    await ch.consume(queue, (m: ConsumeMessage | null) => {
      if (m === null) return;
      seen.add(m.content.readUInt32LE(0));
      last = now();
      ch.ack(m);
    });
    while (now() - last < DRAIN_IDLE_MS) await sleep(100);
  } finally {
    await conn.close().catch(() => undefined);
  }
  return seen;
}

export async function measureFailover(o: FailoverOptions): Promise<FailoverResult> {
  const p = new Publisher(o);
  const first = o.nodes.find((n) => n.name === o.leader);
  if (first === undefined) throw new Error(`leader ${o.leader} is not one of the nodes`);
  await p.open(first);
  const pumping = p.pump();
  await sleep(o.beforeKillMs);
  const confirmedBeforeKill = p.confirmed.size;
  const killedLink = p.current;
  p.firstConfirmGeneration = (killedLink?.generation ?? 0) + 1;
  const killedAt = now();
  o.kill();
  o.log(`  killed ${o.leader} (${confirmedBeforeKill} confirmed so far)`);
  const deadline = killedAt + o.deadlineMs;
  const alive = o.nodes.filter((n) => n.name !== o.leader);
  const leaderPoll = o.namesLeader ? pollLeader(o, alive, killedAt, deadline) : Promise.resolve(undefined);
  // The client notices the dead connection (its socket closes with the process), then reconnects.
  while (p.current !== undefined && p.current === killedLink && now() < deadline) await sleep(10);
  let link: Link | undefined;
  let reconnectMs: number | undefined;
  const connected = keepConnected(p, o, o.leader, deadline, (l) => {
    if (link === undefined) reconnectMs = now() - killedAt;
    else o.log(`  link to ${link.node.name} went down; reconnected to ${l.node.name}`);
    link = l;
  });
  while (p.firstConfirmAt === undefined && now() < deadline) await sleep(10);
  const firstConfirmMs = p.firstConfirmAt === undefined ? undefined : p.firstConfirmAt - killedAt;
  if (firstConfirmMs !== undefined) await sleep(o.afterRecoveryMs);
  const leader = await leaderPoll;
  await p.stop();
  await Promise.all([pumping, connected]);
  const survivor = p.current?.node ?? (link as Link | undefined)?.node ?? alive[0];
  const seen = await drain(survivor, o.queue);
  let lost = 0;
  for (const s of p.confirmed) if (!seen.has(s)) lost++;
  return {
    confirmedBeforeKill,
    reconnectMs,
    firstConfirmMs,
    newLeaderMs: leader?.ms,
    newLeader: leader?.leader,
    survivor: survivor.name,
    confirmedTotal: p.confirmed.size,
    lostConfirmed: lost,
    drained: seen.size,
    confirmTimeouts: p.confirmTimeouts,
  };
}
