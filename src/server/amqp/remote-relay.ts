// One client channel's operations on queues homed on other nodes (docs/cluster.md,
// "Forwarding"): consumers, gets, acks, nacks, rejects, recover and cancel are relayed over
// channels of the link to the queue's home, each delivery under a tag of the client's channel
// mapped to the link's. Each relayed consumer has a link channel of its own (a consume refused
// there closes only that channel, and the consumer can move alone); gets share one per home.
//
// When a consumer's home goes away (its link channel closes, or the home cancels it):
// - a classic queue's consumer is cancelled (basic.cancel), as RabbitMQ cancels consumers of a
//   queue whose node went down;
// - a quorum queue's consumer follows the queue's new leader, as a RabbitMQ quorum queue
//   consumer carries on after a leader election: it consumes there again under the same tag and
//   prefetch (or here, if this node now leads), and the client sees no cancel. The new leader
//   redelivers what was out to the old one; the old deliveries' tags are dead: settling them is
//   ignored, never a 406 (RabbitMQ settles such stale acks without closing the channel, see
//   rabbitmq-server#4305).

import type { Channel } from '../../client/amqp/index.js';
import type { BasicDeliver, ContentHeader, FieldTable } from '../../protocol/amqp/index.js';
import type { ClusterLinks } from './cluster-links.js';

/** How long a quorum queue consumer keeps trying to follow its queue to a new leader before it is cancelled. */
const FOLLOW_MS = 60_000;
const FOLLOW_RETRY_FIRST_MS = 100;
const FOLLOW_RETRY_MAX_MS = 1_000;
/** Dead tags (deliveries of a home that went away) remembered so their settlement is ignored. */
const GONE_TAGS_MAX = 10_000;

export interface ConsumeOptions {
  readonly noAck: boolean;
  readonly exclusive: boolean;
  readonly args: FieldTable;
  /** The consumer's prefetch (basic.qos before its basic.consume), 0 for none. */
  readonly prefetch: number;
  /** A stream queue's consumer: its deliveries name the stream (settling them acks nothing on the home). */
  readonly stream?: boolean;
}

export interface RelayHost {
  readonly links: ClusterLinks;
  readonly vhost: string;
  /** A tag from the client channel's own sequence (Session.allocateTag). */
  nextTag(): number;
  deliver(consumerTag: string, deliveryTag: number, d: BasicDeliver, header: ContentHeader, body: Buffer): void;
  /** The consumer is gone (its queue's home went away, or the queue was deleted): tell the client. */
  cancelled(consumerTag: string): void;
  /** A replicated queue whose consumers follow its leader (a quorum queue the cluster still has). */
  follows(queue: string): boolean;
  /** Where the queue's messages live now: 'here', another node's name, or undefined (no leader at the moment). */
  homeOf(queue: string): string | undefined;
  /** The queue is served here now: consume it on this node under the same tag (throws if it cannot yet). */
  consumeHere(tag: string, queue: string, o: ConsumeOptions): void;
}

/** A node's answer in RelayHost.homeOf for this node. */
export const HERE = 'here';

interface Link {
  readonly home: string;
  readonly channel: Promise<Channel>;
  closed: boolean;
  /** Deliveries on it not yet settled. */
  unacked: number;
  /** No consumer uses it any more: it closes once its last delivery is settled. */
  retired: boolean;
  /** tx.select on this link channel, once the client channel's first commit needed it. */
  tx?: Promise<void>;
}

interface RelayedConsumer {
  readonly tag: string;
  readonly queue: string;
  readonly o: ConsumeOptions;
  /** Undefined while it follows its queue to a new leader. */
  link: Link | undefined;
}

interface Delivery {
  readonly link: Link;
  readonly remoteTag: number;
  /** A stream queue's delivery (a relayed stream consumer): its name. */
  readonly stream?: string;
}

/** A settlement a transaction holds: sent to the home, in a transaction there, at the client's tx.commit. */
interface TxSettle {
  readonly tag: number;
  readonly d: Delivery;
  readonly how: 'ack' | 'requeue' | 'reject';
}

export class RemoteRelay {
  /** Per home, the channel basic.get uses. */
  private readonly getLinks = new Map<string, Link>();
  private readonly consumerLinks = new Set<Link>();
  private readonly deliveries = new Map<number, Delivery>();
  private readonly consumers = new Map<string, RelayedConsumer>();
  /** Tags of relayed deliveries whose home went away: settling them is moot, not an error. */
  private readonly gone = new Set<number>();
  private closed = false;
  /** A transactional client channel (tx.select): settlements held until txCommit. */
  private tx: TxSettle[] | undefined;

  constructor(private readonly host: RelayHost) {}

  /**
   * basic.consume on a queue homed on `home`, under the client's tag. Resolves with `start`, to be
   * called once the client has its consume-ok: the home may deliver ready messages in the same
   * read as its own consume-ok, and a client must never see a delivery for a tag it does not know.
   */
  async consume(home: string, queue: string, tag: string, o: ConsumeOptions): Promise<() => void> {
    const c: RelayedConsumer = { tag, queue, o, link: undefined };
    this.consumers.set(tag, c);
    try {
      return await this.subscribe(c, home);
    } catch (err) {
      if (this.consumers.get(tag) === c) this.consumers.delete(tag);
      throw err;
    }
  }

  /**
   * A consumer of this channel on a quorum queue led here until now (this node stopped leading it):
   * it follows the queue to its new leader, as a relayed consumer would.
   */
  follow(tag: string, queue: string, o: ConsumeOptions): void {
    const c: RelayedConsumer = { tag, queue, o, link: undefined };
    this.consumers.set(tag, c);
    void this.followLeader(c);
  }

  /** basic.get from a queue homed on `home`: the message under a tag of the client's channel. */
  async get(home: string, queue: string, noAck: boolean): Promise<{ deliveryTag: number; redelivered: boolean; exchange: string; routingKey: string; messageCount: number; header: ContentHeader; body: Buffer } | undefined> {
    let link = this.getLinks.get(home);
    if (link === undefined || link.closed) {
      link = this.open(home);
      this.getLinks.set(home, link);
    }
    const ch = await link.channel;
    const r = await ch.get(queue, noAck);
    if (r === undefined) return undefined;
    const local = this.host.nextTag();
    if (!noAck) this.track(local, link, r.method.deliveryTag);
    const m = r.method;
    return { deliveryTag: local, redelivered: m.redelivered, exchange: m.exchange, routingKey: m.routingKey, messageCount: m.messageCount, header: r.header, body: r.body };
  }

  /** Owns this consumer tag (also while the consumer follows its queue to a new leader). */
  hasConsumer(tag: string): boolean {
    return this.consumers.has(tag);
  }

  /** The stream queue of a relayed stream delivery this tag names (or, with `multiple`, one at or below it). */
  streamOf(tag: number, multiple: boolean): string | undefined {
    if (!multiple) return this.deliveries.get(tag)?.stream;
    for (const [t, d] of this.deliveries) if ((tag === 0 || t <= tag) && d.stream !== undefined) return d.stream;
    return undefined;
  }

  /** basic.ack / basic.nack / basic.reject of relayed deliveries; false if none of them is relayed (or dead). */
  settle(tag: number, multiple: boolean, how: 'ack' | 'requeue' | 'reject'): boolean {
    let dead = false;
    if (!multiple) {
      if (this.gone.delete(tag)) return true;
    } else {
      for (const t of this.gone) {
        if (tag !== 0 && t > tag) continue;
        this.gone.delete(t);
        dead = true;
      }
    }
    const tags = multiple ? [...this.deliveries.keys()].filter((t) => tag === 0 || t <= tag) : this.deliveries.has(tag) ? [tag] : [];
    for (const t of tags) {
      const d = this.deliveries.get(t) as Delivery;
      this.deliveries.delete(t);
      if (this.tx !== undefined) {
        this.tx.push({ tag: t, d, how });
        continue;
      }
      d.link.unacked--;
      if (d.link.closed) continue;
      void d.link.channel
        .then((ch) => {
          if (how === 'ack') ch.ack(d.remoteTag);
          else ch.nack(d.remoteTag, false, how === 'requeue');
          if (d.link.retired && d.link.unacked === 0) this.retire(d.link);
        })
        .catch(() => undefined);
    }
    return dead || tags.length > 0;
  }

  async cancel(tag: string): Promise<void> {
    const c = this.consumers.get(tag);
    if (c === undefined) return;
    this.consumers.delete(tag);
    const link = c.link;
    if (link === undefined || link.closed) return;
    // Its unacked deliveries stay with the client's channel (AMQP): the link channel stays until they are settled.
    link.retired = true;
    await link.channel.then((ch) => ch.cancel(tag)).catch(() => undefined);
    if (link.unacked === 0) this.retire(link);
  }

  /** basic.recover: unacked relayed deliveries go back to their queues (redelivered). */
  async recover(): Promise<void> {
    const links = new Set([...this.deliveries.values(), ...(this.tx ?? []).map((s) => s.d)].map((d) => d.link));
    this.deliveries.clear();
    if (this.tx !== undefined) this.tx = [];
    for (const link of links) {
      link.unacked = 0;
      if (!link.closed) await link.channel.then((ch) => ch.recover()).catch(() => undefined);
      if (link.retired) this.retire(link);
    }
  }

  /** A channel of its own to the home, for a passive declare, a purge, a delete. */
  channelTo(home: string): Promise<Channel> {
    return this.host.links.channel(home, this.host.vhost);
  }

  close(): void {
    this.closed = true;
    for (const link of [...this.consumerLinks, ...this.getLinks.values()]) this.shut(link);
    this.consumerLinks.clear();
    this.getLinks.clear();
    this.deliveries.clear();
    this.gone.clear();
    this.consumers.clear();
    if (this.tx !== undefined) this.tx = [];
  }

  // --- transactions (docs/cluster.md, "Transactions across nodes") ---------

  /** The client channel is transactional: settlements wait for txCommit. */
  txSelect(): void {
    this.tx ??= [];
  }

  /**
   * tx.commit: each home gets the settlements of its deliveries in a transaction of its own, on
   * the link channel they came on (tx.select once, the acks, tx.commit); resolves once every home
   * answered commit-ok. Rejects when a home is gone or refused (its deliveries stay unacked there,
   * and it redelivers them); the other homes' commits stand: nothing is atomic across nodes.
   */
  async txCommit(): Promise<void> {
    const held = this.tx ?? [];
    if (this.tx !== undefined) this.tx = [];
    const byLink = new Map<Link, TxSettle[]>();
    for (const s of held) {
      const list = byLink.get(s.d.link) ?? [];
      list.push(s);
      byLink.set(s.d.link, list);
    }
    const commits = [...byLink].map(async ([link, list]) => {
      link.unacked -= list.length;
      // A link lost since: the home redelivers its channel's deliveries, and another channel knows none of its tags.
      if (link.closed) throw new Error(`the link to node '${link.home}' closed before the commit`);
      const ch = await link.channel;
      link.tx ??= ch.txSelect();
      await link.tx;
      for (const s of list) {
        if (s.how === 'ack') ch.ack(s.d.remoteTag);
        else ch.nack(s.d.remoteTag, false, s.how === 'requeue');
      }
      await ch.txCommit();
      if (link.retired && link.unacked === 0) this.retire(link);
    });
    const results = await Promise.allSettled(commits);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** tx.rollback: the held settlements are dropped; their deliveries are unacked again, under their tags. */
  txRollback(): void {
    const held = this.tx ?? [];
    if (this.tx !== undefined) this.tx = [];
    for (const s of held) if (!s.d.link.closed) this.deliveries.set(s.tag, s.d);
  }

  /** Opens a link channel for `c` on `home` and consumes there; resolves with `start` (see consume()). */
  private async subscribe(c: RelayedConsumer, home: string): Promise<() => void> {
    const link = this.open(home, c.o.prefetch);
    this.consumerLinks.add(link);
    let held: (() => void)[] | undefined = [];
    try {
      const ch = await link.channel;
      ch.on('cancel', (tag: string) => {
        if (tag === c.tag) this.lost(link);
      });
      await ch.consume(c.queue, (d, body, header) => {
        const local = this.host.nextTag();
        if (!c.o.noAck) this.track(local, link, d.deliveryTag, c.o.stream === true ? c.queue : undefined);
        if (held !== undefined) held.push(() => this.host.deliver(c.tag, local, d, header, body));
        else this.host.deliver(c.tag, local, d, header, body);
      }, { noAck: c.o.noAck, exclusive: c.o.exclusive, consumerTag: c.tag, arguments: c.o.args });
    } catch (err) {
      this.consumerLinks.delete(link);
      this.shut(link);
      throw err;
    }
    if (this.consumers.get(c.tag) !== c || link.closed) {
      // Cancelled (or the channel closed) while the consume was on its way.
      this.consumerLinks.delete(link);
      this.shut(link);
      throw new Error(`consumer '${c.tag}' went while it subscribed`);
    }
    c.link = link;
    return () => {
      const out = held ?? [];
      held = undefined;
      for (const deliver of out) deliver();
    };
  }

  /** A link channel to `home` with a per-consumer prefetch; its close makes its deliveries dead. */
  private open(home: string, prefetch = 0): Link {
    const channel = this.host.links.channel(home, this.host.vhost).then(async (ch) => {
      ch.on('close', () => this.lost(link));
      if (prefetch > 0) await ch.qos(prefetch);
      return ch;
    });
    const link: Link = { home, channel, closed: false, unacked: 0, retired: false };
    channel.catch(() => this.lost(link));
    return link;
  }

  private track(local: number, link: Link, remoteTag: number, stream?: string): void {
    this.deliveries.set(local, stream === undefined ? { link, remoteTag } : { link, remoteTag, stream });
    link.unacked++;
  }

  /** A retired consumer link has nothing left to settle: close it. */
  private retire(link: Link): void {
    this.consumerLinks.delete(link);
    this.shut(link);
  }

  private shut(link: Link): void {
    if (link.closed) return;
    link.closed = true;
    void link.channel.then((ch) => ch.close()).catch(() => undefined);
  }

  /**
   * A link channel closed (its home died, or refused something) or its consumer was cancelled by
   * the home (the queue deleted there, or its leader stepped down): its deliveries are dead, its
   * consumer is cancelled or follows its queue.
   */
  private lost(link: Link): void {
    const wasOpen = !link.closed;
    this.shut(link);
    if (!wasOpen && !this.consumerLinks.has(link) && this.getLinks.get(link.home) !== link) return;
    this.consumerLinks.delete(link);
    if (this.getLinks.get(link.home) === link) this.getLinks.delete(link.home);
    for (const [t, d] of this.deliveries) {
      if (d.link !== link) continue;
      this.deliveries.delete(t);
      this.gone.add(t);
      if (this.gone.size > GONE_TAGS_MAX) this.gone.delete(this.gone.values().next().value as number);
    }
    link.unacked = 0;
    for (const c of this.consumers.values()) {
      if (c.link !== link) continue;
      c.link = undefined;
      if (this.host.follows(c.queue)) void this.followLeader(c);
      else this.cancelled(c);
    }
  }

  /** Consumes the quorum queue again wherever it is led now, retrying while it has no leader or the new one is replaying. */
  private async followLeader(c: RelayedConsumer): Promise<void> {
    const deadline = Date.now() + FOLLOW_MS;
    let waitMs = FOLLOW_RETRY_FIRST_MS;
    while (!this.closed && this.consumers.get(c.tag) === c) {
      if (!this.host.follows(c.queue) || Date.now() > deadline) {
        this.cancelled(c);
        return;
      }
      const home = this.host.homeOf(c.queue);
      try {
        if (home === HERE) {
          this.consumers.delete(c.tag);
          try {
            this.host.consumeHere(c.tag, c.queue, c.o);
          } catch (err) {
            this.consumers.set(c.tag, c);
            throw err;
          }
          return;
        }
        if (home !== undefined) {
          (await this.subscribe(c, home))();
          return;
        }
      } catch {
        // Not served yet (no leader, or the new one still replays its log): try again shortly.
      }
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      waitMs = Math.min(waitMs * 2, FOLLOW_RETRY_MAX_MS);
    }
  }

  private cancelled(c: RelayedConsumer): void {
    if (this.consumers.get(c.tag) !== c) return;
    this.consumers.delete(c.tag);
    this.host.cancelled(c.tag);
  }
}
