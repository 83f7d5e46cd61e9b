// The AMQP connection as the broker's ConnectionRegistry sees it (the management
// API lists, inspects and closes connections through this, protocol-neutrally).

import type { Socket } from 'node:net';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import { bare, connectionName, type ClientConnection, type ConnectionInfo, type TlsInfo } from '../../broker/connections.js';
import { ReplyCode } from '../../protocol/amqp/index.js';
import type { AmqpConnection } from './connection.js';

export class AmqpConnectionView implements ClientConnection {
  readonly name: string;
  readonly connectedAt = Date.now();
  readonly peerHost: string;
  readonly peerPort: number;
  readonly host: string;
  readonly port: number;

  constructor(
    private readonly conn: AmqpConnection,
    private readonly socket: Socket,
  ) {
    this.peerHost = bare(socket.remoteAddress ?? '');
    this.peerPort = socket.remotePort ?? 0;
    this.host = bare(socket.localAddress ?? '');
    this.port = socket.localPort ?? 0;
    this.name = connectionName(this.peerHost, this.peerPort, this.host, this.port);
  }

  info(): ConnectionInfo {
    const d = this.conn.describe();
    return {
      protocol: 'AMQP 0-9-1',
      user: this.conn.user,
      vhost: this.conn.vhost?.name,
      state: this.conn.blocked ? 'blocked' : d.state === 'running' ? 'running' : d.state === 'closing' || d.state === 'closed' ? 'closing' : 'starting',
      authMechanism: d.authMechanism,
      clientProperties: this.conn.clientProperties,
      channelMax: d.channelMax,
      frameMax: d.frameMax,
      heartbeatSec: d.heartbeatSec,
      bytesReceived: this.socket.bytesRead,
      bytesSent: this.socket.bytesWritten,
      channels: d.channels,
      ...(this.socket instanceof TLSSocket ? { tls: tlsInfo(this.socket) } : {}),
    };
  }

  /** RabbitMQ's management close: connection.close 320 with the given reason. */
  forceClose(reason: string): void {
    if (this.conn.isOpen) this.conn.close(ReplyCode.CONNECTION_FORCED, reason);
    else this.conn.destroy(reason);
  }
}

function tlsInfo(socket: TLSSocket): TlsInfo {
  const cert: Partial<PeerCertificate> = socket.getPeerCertificate();
  const has = cert.subject !== undefined;
  return {
    protocol: socket.getProtocol() ?? '',
    cipher: socket.getCipher()?.name ?? '',
    peerCertSubject: has ? distinguishedName(cert.subject) : null,
    peerCertIssuer: has ? distinguishedName(cert.issuer) : null,
    peerCertValidity: has ? `${cert.valid_from} - ${cert.valid_to}` : null,
  };
}

/** "CN=alice,O=Example": RFC 4514 order (most specific first). */
function distinguishedName(name: Readonly<Record<string, string | string[] | undefined>> | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .reverse()
    .flatMap(([k, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`)))
    .join(',');
}
