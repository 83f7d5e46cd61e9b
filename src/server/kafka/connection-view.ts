// A Kafka connection as the broker's ConnectionRegistry sees it: listed by the
// management API next to AMQP connections (protocol "Kafka", no channels).

import type { Socket } from 'node:net';
import { bare, connectionName, type ClientConnection, type ConnectionInfo } from '../../broker/connections.js';
import type { KafkaConnection } from './connection.js';

export class KafkaConnectionView implements ClientConnection {
  readonly name: string;
  readonly connectedAt = Date.now();
  readonly peerHost: string;
  readonly peerPort: number;
  readonly host: string;
  readonly port: number;

  constructor(
    private readonly conn: KafkaConnection,
    private readonly socket: Socket,
  ) {
    this.peerHost = bare(socket.remoteAddress ?? '');
    this.peerPort = socket.remotePort ?? 0;
    this.host = bare(socket.localAddress ?? '');
    this.port = socket.localPort ?? 0;
    this.name = connectionName(this.peerHost, this.peerPort, this.host, this.port);
  }

  info(): ConnectionInfo {
    const clientId = this.conn.clientIdSeen;
    return {
      protocol: 'Kafka',
      user: this.conn.user ?? '',
      vhost: this.conn.vhostName,
      state: 'running',
      authMechanism: this.conn.authMechanism ?? 'none',
      clientProperties: clientId === null ? {} : { client_id: clientId },
      channelMax: 0,
      frameMax: 0,
      heartbeatSec: 0,
      bytesReceived: this.socket.bytesRead,
      bytesSent: this.socket.bytesWritten,
      channels: [],
    };
  }

  /** Kafka has no close frame: the socket is closed. */
  forceClose(): void {
    this.conn.close();
  }
}
