// A protocol-neutral registry of client connections (AMQP, Kafka, ...), so the
// management API and metrics can list them, their channels and consumers, and
// close one. Each protocol adapter registers its connections with a view that
// reads its own state on demand: nothing is copied or counted per frame.

import type { Args } from './message.js';
import { ChurnCounters, type MessageCounters } from './stats.js';

export interface ConsumerInfo {
  readonly tag: string;
  readonly queue: string;
  readonly ackRequired: boolean;
  readonly exclusive: boolean;
  readonly prefetchCount: number;
  readonly args: Args;
  readonly active: boolean;
}

export interface ChannelInfo {
  readonly number: number;
  readonly prefetchCount: number;
  readonly globalPrefetchCount: number;
  readonly unacked: number;
  readonly unconfirmed: number;
  readonly uncommitted: number;
  readonly confirm: boolean;
  readonly transactional: boolean;
  readonly consumers: readonly ConsumerInfo[];
  /** Messages published on this channel and deliveries to it (undefined where a protocol has none). */
  readonly stats?: MessageCounters;
}

export interface ConnectionInfo {
  readonly protocol: string;
  readonly user: string;
  /** undefined before the client chose one (AMQP connection.open). */
  readonly vhost: string | undefined;
  readonly state: 'starting' | 'running' | 'blocked' | 'closing';
  readonly authMechanism: string;
  readonly clientProperties: Record<string, unknown>;
  readonly channelMax: number;
  readonly frameMax: number;
  readonly heartbeatSec: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly channels: readonly ChannelInfo[];
  /** Set for connections over TLS. */
  readonly tls?: TlsInfo;
}

/** A TLS connection's session, as RabbitMQ's management API shows it. */
export interface TlsInfo {
  /** "TLSv1.3" */
  readonly protocol: string;
  /** OpenSSL's name: "TLS_AES_256_GCM_SHA384" */
  readonly cipher: string;
  /** The client certificate's subject and issuer ("CN=...,O=..."), and validity; null without one. */
  readonly peerCertSubject: string | null;
  readonly peerCertIssuer: string | null;
  readonly peerCertValidity: string | null;
}

/** What an adapter registers for each connection. */
export interface ClientConnection {
  /** RabbitMQ's connection name: "peer_host:peer_port -> host:port". */
  readonly name: string;
  readonly connectedAt: number;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly host: string;
  readonly port: number;
  info(): ConnectionInfo;
  /** Closes the connection from the broker side (RabbitMQ: 320 CONNECTION_FORCED with this reason). */
  forceClose(reason: string): void;
}

export class ConnectionRegistry {
  private readonly byName = new Map<string, ClientConnection>();
  readonly churn = new ChurnCounters();

  add(c: ClientConnection): void {
    this.byName.set(c.name, c);
    this.churn.connectionCreated++;
  }

  remove(c: ClientConnection): void {
    if (this.byName.get(c.name) === c && this.byName.delete(c.name)) this.churn.connectionClosed++;
  }

  get(name: string): ClientConnection | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  values(): IterableIterator<ClientConnection> {
    return this.byName.values();
  }
}

/** RabbitMQ's connection name, from the socket's two ends. */
export function connectionName(peerHost: string, peerPort: number, host: string, port: number): string {
  return `${bare(peerHost)}:${peerPort} -> ${bare(host)}:${port}`;
}

/** IPv4 peers on a dual-stack socket show as ::ffff:a.b.c.d; RabbitMQ shows a.b.c.d. */
export function bare(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
