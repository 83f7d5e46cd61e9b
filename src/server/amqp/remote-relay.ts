// One client channel's operations on queues homed on other nodes (docs/cluster.md,
// "Forwarding"): consumers, gets, acks, nacks, rejects, recover, cancel and prefetch are
// relayed over a channel of the link to the queue's home (one per home), each delivery
// under a tag of the client's channel mapped to the link's. When the home goes away (the
// link channel closes) every consumer on it is cancelled, as RabbitMQ cancels consumers of
// a queue whose node went down.

import type { Channel } from '../../client/amqp/index.js';
import type { BasicDeliver, ContentHeader, FieldTable } from '../../protocol/amqp/index.js';
import type { ClusterLinks } from './cluster-links.js';

export interface RelayHost {
  readonly links: ClusterLinks;
  readonly vhost: string;
  /** A tag from the client channel's own sequence (Session.allocateTag). */
  nextTag(): number;
  deliver(consumerTag: string, deliveryTag: number, d: BasicDeliver, header: ContentHeader, body: Buffer): void;
  /** The broker cancelled a consumer (its queue's home went away, or the queue was deleted). */
  cancelled(consumerTag: string): void;
}

interface Link {
  readonly channel: Promise<Channel>;
  readonly consumers: Set<string>;
  /** tx.select on this link channel, once the client channel's first commit needed it. */
  tx?: Promise<void>;
}

interface Delivery {
  readonly home: string;
  readonly remoteTag: number;
  /** A stream queue's delivery (a relayed stream consumer): its name. */
  readonly stream?: string;
}

/** A settlement a transaction holds: sent to the home, in a transaction there, at the client's tx.commit. */
interface TxSettle {
  readonly tag: number;
  readonly d: Delivery;
  readonly how: 'ack' | 'requeue' | 'reject';
  readonly link: Link | undefined;
}

export class RemoteRelay {
  private readonly links = new Map<string, Link>();
  private readonly deliveries = new Map<number, Delivery>();
  /** Consumer tag -> home. */
  private readonly consumers = new Map<string, string>();
  private prefetch = 0;
  /** Tags of relayed deliveries whose home went away: settling them is moot, not an error. */
  private readonly gone = new Set<number>();
  /** A transactional client channel (tx.select): settlements held until txCommit, with the link they belong to. */
  private tx: TxSettle[] | undefined;

  constructor(private readonly host: RelayHost) {}

  /**
   * basic.consume on a queue homed on `home`, under the client's tag. Resolves with `start`, to be
   * called once the client has its consume-ok: the home may deliver ready messages in the same
   * read as its own consume-ok, and a client must never see a delivery for a tag it does not know.
   */
  async consume(home: string, queue: string, tag: string, o: { noAck: boolean; exclusive: boolean; args: FieldTable; stream?: boolean }): Promise<() => void> {
    const link = this.link(home);
    const ch = await link.channel;
    this.consumers.set(tag, home);
    link.consumers.add(tag);
    let held: (() => void)[] | undefined = [];
    try {
      await ch.consume(queue, (d, body, header) => {
        const local = this.host.nextTag();
        if (!o.noAck) this.deliveries.set(local, o.stream === true ? { home, remoteTag: d.deliveryTag, stream: queue } : { home, remoteTag: d.deliveryTag });
        if (held !== undefined) held.push(() => this.host.deliver(tag, local, d, header, body));
        else this.host.deliver(tag, local, d, header, body);
      }, { noAck: o.noAck, exclusive: o.exclusive, consumerTag: tag, arguments: o.args });
      return () => {
        const out = held ?? [];
        held = undefined;
        for (const deliver of out) deliver();
      };
    } catch (err) {
      this.consumers.delete(tag);
      link.consumers.delete(tag);
      throw err;
    }
  }

  /** basic.get from a queue homed on `home`: the message under a tag of the client's channel. */
  async get(home: string, queue: string, noAck: boolean): Promise<{ deliveryTag: number; redelivered: boolean; exchange: string; routingKey: string; messageCount: number; header: ContentHeader; body: Buffer } | undefined> {
    const ch = await this.link(home).channel;
    const r = await ch.get(queue, noAck);
    if (r === undefined) return undefined;
    const local = this.host.nextTag();
    if (!noAck) this.deliveries.set(local, { home, remoteTag: r.method.deliveryTag });
    const m = r.method;
    return { deliveryTag: local, redelivered: m.redelivered, exchange: m.exchange, routingKey: m.routingKey, messageCount: m.messageCount, header: r.header, body: r.body };
  }

  /** Owns this consumer tag. */
  hasConsumer(tag: string): boolean {
    return this.consumers.has(tag);
  }

  /** Owns this delivery tag (or, with `multiple`, one at or below it). */
  owns(tag: number, multiple: boolean): boolean {
    if (!multiple) return this.deliveries.has(tag);
    for (const t of this.deliveries.keys()) if (tag === 0 || t <= tag) return true;
    return false;
  }

  /** The stream queue of a relayed stream delivery this tag names (or, with `multiple`, one at or below it). */
  streamOf(tag: number, multiple: boolean): string | undefined {
    if (!multiple) return this.deliveries.get(tag)?.stream;
    for (const [t, d] of this.deliveries) if ((tag === 0 || t <= tag) && d.stream !== undefined) return d.stream;
    return undefined;
  }

  /** basic.ack / basic.nack / basic.reject of relayed deliveries; false if none of them is relayed. */
  settle(tag: number, multiple: boolean, how: 'ack' | 'requeue' | 'reject'): boolean {
    if (!multiple && this.gone.delete(tag)) return true;
    const tags = multiple ? [...this.deliveries.keys()].filter((t) => tag === 0 || t <= tag) : this.deliveries.has(tag) ? [tag] : [];
    for (const t of tags) {
      const d = this.deliveries.get(t) as Delivery;
      this.deliveries.delete(t);
      if (this.tx !== undefined) {
        this.tx.push({ tag: t, d, how, link: this.links.get(d.home) });
        continue;
      }
      void this.links.get(d.home)?.channel.then((ch) => {
        if (how === 'ack') ch.ack(d.remoteTag);
        else ch.nack(d.remoteTag, false, how === 'requeue');
      }, () => undefined);
    }
    return tags.length > 0;
  }

  async cancel(tag: string): Promise<void> {
    const home = this.consumers.get(tag);
    if (home === undefined) return;
    this.consumers.delete(tag);
    const link = this.links.get(home);
    link?.consumers.delete(tag);
    await link?.channel.then((ch) => ch.cancel(tag)).catch(() => undefined);
  }

  /** basic.qos (per consumer): consumers started from now get it, as on the home. */
  async qos(prefetchCount: number): Promise<void> {
    this.prefetch = prefetchCount;
    for (const link of this.links.values()) await link.channel.then((ch) => ch.qos(prefetchCount)).catch(() => undefined);
  }

  /** basic.recover: unacked relayed deliveries go back to their queues (redelivered). */
  async recover(): Promise<void> {
    this.deliveries.clear();
    if (this.tx !== undefined) this.tx = [];
    for (const link of this.links.values()) await link.channel.then((ch) => ch.recover()).catch(() => undefined);
  }

  /** A channel of its own to the home, for a passive declare, a purge, a delete. */
  channelTo(home: string): Promise<Channel> {
    return this.host.links.channel(home, this.host.vhost);
  }

  close(): void {
    for (const link of this.links.values()) void link.channel.then((ch) => ch.close()).catch(() => undefined);
    this.links.clear();
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
    const byLink = new Map<Link | undefined, TxSettle[]>();
    for (const s of held) {
      const list = byLink.get(s.link) ?? [];
      list.push(s);
      byLink.set(s.link, list);
    }
    const commits = [...byLink].map(async ([link, list]) => {
      const home = list[0].d.home;
      // A link lost since: its channel's deliveries are redelivered by the home, and another channel knows none of its tags.
      if (link === undefined || this.links.get(home) !== link) throw new Error(`the link to node '${home}' closed before the commit`);
      const ch = await link.channel;
      link.tx ??= ch.txSelect();
      await link.tx;
      for (const s of list) {
        if (s.how === 'ack') ch.ack(s.d.remoteTag);
        else ch.nack(s.d.remoteTag, false, s.how === 'requeue');
      }
      await ch.txCommit();
    });
    const results = await Promise.allSettled(commits);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** tx.rollback: the held settlements are dropped; their deliveries are unacked again, under their tags. */
  txRollback(): void {
    const held = this.tx ?? [];
    if (this.tx !== undefined) this.tx = [];
    for (const s of held) if (this.links.get(s.d.home) === s.link) this.deliveries.set(s.tag, s.d);
  }

  private link(home: string): Link {
    let link = this.links.get(home);
    if (link !== undefined) return link;
    const consumers = new Set<string>();
    const channel = this.host.links.channel(home, this.host.vhost).then(async (ch) => {
      ch.on('close', () => this.lost(home, l));
      ch.on('cancel', (tag: string) => this.cancelledByHome(tag));
      if (this.prefetch > 0) await ch.qos(this.prefetch);
      return ch;
    });
    const l: Link = { channel, consumers };
    channel.catch(() => this.lost(home, l));
    this.links.set(home, l);
    link = l;
    return link;
  }

  /** The link channel closed (the home died, or refused something): its consumers are cancelled. */
  private lost(home: string, link: Link): void {
    if (this.links.get(home) === link) this.links.delete(home);
    for (const [t, d] of this.deliveries) {
      if (d.home !== home) continue;
      this.deliveries.delete(t);
      this.gone.add(t);
    }
    for (const tag of link.consumers) this.cancelledByHome(tag);
    link.consumers.clear();
  }

  private cancelledByHome(tag: string): void {
    const home = this.consumers.get(tag);
    if (home === undefined) return;
    this.consumers.delete(tag);
    this.links.get(home)?.consumers.delete(tag);
    this.host.cancelled(tag);
  }
}
