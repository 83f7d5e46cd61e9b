// One Kafka connection from this node to another node's Kafka listener, one request at a time:
// what a follower fetches its leader's log on (replica-fetcher.ts) and what a transaction
// coordinator sends WriteTxnMarkers on (txn-marker-sender.ts). With a login, it authenticates
// first as the cluster's link user (SASL PLAIN, the cluster's secret), as Kafka's inter-broker
// connections authenticate on their listener.

import { connect as netConnect, type Socket } from 'node:net';
import { CLUSTER_LINK_USER } from '../../broker/access/index.js';
import { type ApiKeyNumber, ErrorCode, type Input, KafkaFrameParser, type RequestOf, type ResponseOf, decodeResponse, encodeRequest, errorCodeName } from '../../protocol/kafka/index.js';

const SASL_HANDSHAKE = 17 as const;
/** v1: the tokens follow in SaslAuthenticate requests. */
const SASL_HANDSHAKE_VERSION = 1;
const SASL_AUTHENTICATE = 36 as const;
const SASL_AUTHENTICATE_VERSION = 2;
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * How long past its own wait an answer may take before the connection is given up (Kafka's
 * replica.socket.timeout.ms, 30 s there): across a network partition that drops packets, a
 * request or its answer is lost without the connection closing, and TCP alone would retry it for
 * minutes after the partition healed.
 */
const ANSWER_GRACE_MS = 5_000;

/** Who the session logs in as: `login` is SASL PLAIN's authcid (`vhost:user`, or `user` for `/`). */
export interface PeerLogin {
  readonly login: string;
  readonly password: string;
}

/** The cluster link user's login in `vhost` (its password the cluster's secret); throws while the secret is unknown. */
export function linkLogin(vhost: string, secret: () => string | undefined): () => PeerLogin {
  const login = vhost === '/' ? CLUSTER_LINK_USER : `${vhost}:${CLUSTER_LINK_USER}`;
  return () => {
    const password = secret();
    if (password === undefined) throw new Error('the cluster secret is not known yet');
    return { login, password };
  };
}

export class KafkaPeerSession {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private where = '';
  private pending: { correlationId: number; resolve: (frame: Buffer) => void; reject: (err: Error) => void } | undefined;
  private nextCorrelationId = 1;
  private closed = false;

  /** `login` is asked at each new connection (it may throw: no connection then); undefined: no login. */
  constructor(
    private readonly clientId: string,
    private readonly login?: () => PeerLogin | undefined,
  ) {}

  /** One request on this session's connection, its answer decoded; given up `waitMs` + ANSWER_GRACE_MS after. */
  async request<K extends ApiKeyNumber>(apiKey: K, version: number, at: { host: string; port: number }, body: Input<RequestOf<K>>, waitMs: number): Promise<ResponseOf<K>> {
    const socket = await this.connect(at.host, at.port);
    return this.send(socket, apiKey, version, body, waitMs);
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  /** Closes the connection (the next request opens a new one) and fails the request in flight. */
  drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new Error(`connection to ${this.where} closed`));
  }

  private async send<K extends ApiKeyNumber>(socket: Socket, apiKey: K, version: number, body: Input<RequestOf<K>>, waitMs: number): Promise<ResponseOf<K>> {
    const correlationId = this.nextCorrelationId++;
    const frame = encodeRequest(apiKey, version, correlationId, this.clientId, body);
    const answer = new Promise<Buffer>((resolve, reject) => (this.pending = { correlationId, resolve, reject }));
    for (const chunk of frame) socket.write(chunk);
    const ms = waitMs + ANSWER_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from ${this.where} within ${ms} ms`)), ms);
    });
    return decodeResponse(apiKey, version, await Promise.race([answer, late]).finally(() => clearTimeout(timer))).body;
  }

  private connect(host: string, port: number): Promise<Socket> {
    if (this.closed) return Promise.reject(new Error('the session is closed'));
    if (this.socket !== undefined) return Promise.resolve(this.socket);
    this.connecting ??= this.open(host, port).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(host: string, port: number): Promise<Socket> {
    this.where = `${host}:${port}`;
    const login = this.login?.();
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ host, port, noDelay: true });
      const timer = setTimeout(() => s.destroy(new Error(`no connection to ${this.where} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      const parser = new KafkaFrameParser({
        onFrame: (frame) => {
          const p = this.pending;
          this.pending = undefined;
          if (p !== undefined && frame.readInt32BE(0) === p.correlationId) p.resolve(frame);
          else p?.reject(new Error(`unexpected response from ${this.where}`));
        },
        onError: (e) => this.fail(s, e),
      });
      s.on('data', (chunk: Buffer) => parser.push(chunk));
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.fail(s, err);
      });
      s.on('close', () => this.fail(s, new Error(`connection to ${this.where} lost`)));
    });
    if (login !== undefined) {
      try {
        await this.authenticate(socket, login);
      } catch (err) {
        socket.destroy();
        throw err;
      }
    }
    this.socket = socket;
    return socket;
  }

  /** Kafka's SASL PLAIN exchange (KIP-152): SaslHandshake v1, then the token in SaslAuthenticate. */
  private async authenticate(socket: Socket, login: PeerLogin): Promise<void> {
    const hs = await this.send(socket, SASL_HANDSHAKE, SASL_HANDSHAKE_VERSION, { mechanism: 'PLAIN' }, 0);
    if (hs.errorCode !== ErrorCode.NONE) throw new Error(`${this.where} refused the PLAIN handshake: ${errorCodeName(hs.errorCode)}`);
    const token = Buffer.from(`\u0000${login.login}\u0000${login.password}`, 'utf8');
    const auth = await this.send(socket, SASL_AUTHENTICATE, SASL_AUTHENTICATE_VERSION, { authBytes: token }, 0);
    if (auth.errorCode !== ErrorCode.NONE) throw new Error(`${this.where} refused the cluster login: ${auth.errorMessage ?? errorCodeName(auth.errorCode)}`);
  }

  private fail(socket: Socket, err: Error): void {
    if (this.socket !== socket && this.socket !== undefined) return;
    this.socket = undefined;
    socket.destroy();
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }
}
