// Node-to-node links of a cluster (docs/cluster.md, "Forwarding"): Wharf's own AMQP client
// (src/client/amqp) connected to another node's advertised AMQP address as the internal link
// user, whose password is the cluster's secret. One connection per home node and vhost; on
// it, one confirm-mode channel carries the copies of publishes routed here to queues homed
// there, and consumers and gets of remote queues open channels of their own (remote-relay.ts).

import { connect, type Channel, type Connection } from '../../client/amqp/index.js';
import { CLUSTER_LINK_USER } from '../../broker/access/index.js';
import type { PublishInput } from '../../broker/message.js';
import type { RemoteQueues } from '../../broker/remote-queues.js';
import { decodeProperties, encodeProperties } from '../../protocol/amqp/index.js';
import type { Logger } from '../../util/logger.js';

/** Headers a forwarded copy carries the original exchange and routing key in; the home strips them. */
export const FORWARD_EXCHANGE_HEADER = 'x-wharf-forward-exchange';
export const FORWARD_ROUTING_KEY_HEADER = 'x-wharf-forward-routing-key';

/**
 * A forwarded copy the home refused (basic.nack) or could not take (the link closed): during a
 * failover an expected refusal (the home logs its own cause), which the publisher gets as a nack.
 */
export class ForwardRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForwardRefused';
  }
}

export interface ClusterLinksOptions {
  /** A node's advertised AMQP address (`host:port`), undefined while it is down or unknown. */
  address(node: string): string | undefined;
  /** The cluster's secret (meta/cookie). */
  secret(): string | undefined;
  readonly logger: Logger;
}

interface Publisher {
  readonly channel: Channel;
  /** Copies waiting for the home's confirm, in publish order (confirms come in order). */
  readonly waiting: { resolve: () => void; reject: (err: Error) => void }[];
}

export class ClusterLinks implements RemoteQueues {
  private readonly connections = new Map<string, Promise<Connection>>();
  private readonly publishers = new Map<string, Promise<Publisher>>();
  private closed = false;

  constructor(private readonly o: ClusterLinksOptions) {}

  publish(home: string, vhost: string, queue: string, input: PublishInput): Promise<void> {
    const props = decodeProperties(input.properties);
    const properties = encodeProperties({
      ...props,
      headers: { ...(props.headers ?? {}), [FORWARD_EXCHANGE_HEADER]: input.exchange, [FORWARD_ROUTING_KEY_HEADER]: input.routingKey },
    });
    return this.publisher(home, vhost).then(
      (p) =>
        new Promise<void>((resolve, reject) => {
          p.waiting.push({ resolve, reject });
          try {
            p.channel.publish('', queue, input.body, properties);
          } catch (err) {
            p.waiting.pop();
            reject(err as Error);
          }
        }),
    );
  }

  /** A new channel on the link to `home` for `vhost` (a relayed consumer or get). */
  async channel(home: string, vhost: string): Promise<Channel> {
    return (await this.connection(home, vhost)).channel();
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    this.publishers.clear();
    for (const c of all) await c.then((conn) => conn.close(), () => undefined).catch(() => undefined);
  }

  private publisher(home: string, vhost: string): Promise<Publisher> {
    const key = linkKey(home, vhost);
    let p = this.publishers.get(key);
    if (p === undefined) {
      p = this.openPublisher(home, vhost);
      this.publishers.set(key, p);
      p.catch(() => this.publishers.delete(key));
    }
    return p;
  }

  private async openPublisher(home: string, vhost: string): Promise<Publisher> {
    const channel = await this.channel(home, vhost);
    await channel.confirmSelect();
    const p: Publisher = { channel, waiting: [] };
    channel.onConfirm = (ok, count) => {
      for (const w of p.waiting.splice(0, count)) {
        if (ok) w.resolve();
        else w.reject(new ForwardRefused(`node '${home}' refused a forwarded message (basic.nack)`));
      }
    };
    channel.on('close', (err?: Error) => {
      if (this.publishers.get(linkKey(home, vhost)) !== undefined) this.publishers.delete(linkKey(home, vhost));
      const why = new ForwardRefused(`the link to node '${home}' closed${err ? `: ${err.message}` : ''}`);
      for (const w of p.waiting.splice(0)) w.reject(why);
    });
    return p;
  }

  private connection(home: string, vhost: string): Promise<Connection> {
    const key = linkKey(home, vhost);
    let c = this.connections.get(key);
    if (c === undefined) {
      c = this.connect(home, vhost);
      this.connections.set(key, c);
      c.then(
        (conn) => conn.once('close', () => {
          if (this.connections.get(key) === c) this.connections.delete(key);
        }),
        () => this.connections.delete(key),
      );
    }
    return c;
  }

  private async connect(home: string, vhost: string): Promise<Connection> {
    if (this.closed) throw new Error('the node is closing');
    const address = this.o.address(home);
    const secret = this.o.secret();
    if (address === undefined) throw new Error(`node '${home}' is down`);
    if (secret === undefined) throw new Error('the cluster secret is not known yet');
    const url = `amqp://${CLUSTER_LINK_USER}:${encodeURIComponent(secret)}@${address}/${encodeURIComponent(vhost)}`;
    const conn = await connect(url, { connectionName: `wharf link to ${home}`, heartbeatSec: 5, timeoutMs: 5_000 });
    this.o.logger.info('link to a node opened', { node: home, vhost });
    conn.on('close', (err?: Error) => {
      if (err !== undefined) this.o.logger.warn('link to a node closed', { node: home, vhost, error: err.message });
    });
    return conn;
  }
}

function linkKey(home: string, vhost: string): string {
  return `${home}\0${vhost}`;
}
