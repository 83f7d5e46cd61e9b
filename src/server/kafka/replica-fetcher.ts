// A follower's fetch session to its leader, in Kafka's own terms (docs/cluster.md, "Streams:
// the data plane"): Fetch v12 with replica_id set to the follower's broker id and
// current_leader_epoch set to the epoch it follows, one request at a time on one connection.
// The leader reads its log below its log end (not the high watermark) for a replica, and its
// answer's high watermark is what the follower learns of the commit point. Each connection first
// logs in (SASL PLAIN as the cluster's link user, its password the cluster's secret) in the
// partition's vhost: the leader serves a replica's fetch only to that user, on any listener.

import { connect as netConnect, type Socket } from 'node:net';
import type { ReplicaFetchRequest, ReplicaFetchResult, ReplicaOffsetRequest, ReplicaOffsetResult, ReplicaSession } from '../../cluster/streams/fetcher.js';
import { CLUSTER_LINK_USER } from '../../broker/access/access.js';
import { BATCH_LOG_OVERHEAD_BYTES } from '../../broker/stream/batch-header.js';
import { type ApiKeyNumber, ErrorCode, type Input, KafkaFrameParser, type RequestOf, type ResponseOf, decodeResponse, encodeRequest, errorCodeName } from '../../protocol/kafka/index.js';

const FETCH = 1 as const;
const FETCH_VERSION = 12;
const LIST_OFFSETS = 2 as const;
/** v4: current_leader_epoch, so a stale leader answers FENCED_LEADER_EPOCH. */
const LIST_OFFSETS_VERSION = 4;
const SASL_HANDSHAKE = 17 as const;
const SASL_AUTHENTICATE = 36 as const;
const FETCH_BYTES_MAX = 8 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * How long past its long-poll wait an answer may take before the connection is given up (Kafka's
 * replica.socket.timeout.ms, 30 s there): across a network partition that drops packets, a
 * request or its answer is lost without the connection closing, and TCP alone would retry it for
 * minutes after the partition healed.
 */
const ANSWER_GRACE_MS = 5_000;

export class KafkaReplicaSession implements ReplicaSession {
  private socket: Socket | undefined;
  private where = '';
  private pending: { correlationId: number; resolve: (frame: Buffer) => void; reject: (err: Error) => void } | undefined;
  private nextCorrelationId = 1;
  private closed = false;

  constructor(
    private readonly vhost: string,
    /** The cluster's secret (the link user's password); undefined until the node has read it. */
    private readonly secret: () => string | undefined,
  ) {}

  async fetch(req: ReplicaFetchRequest): Promise<ReplicaFetchResult> {
    try {
      const body = await this.request(FETCH, FETCH_VERSION, req, {
        replicaId: req.replicaId,
        maxWaitMs: req.maxWaitMs,
        minBytes: 1,
        maxBytes: FETCH_BYTES_MAX,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{
          topic: req.stream,
          partitions: [{ partition: req.partition, currentLeaderEpoch: req.epoch, fetchOffset: BigInt(req.offset), lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: FETCH_BYTES_MAX }],
        }],
        forgottenTopicsData: [],
        rackId: '',
      }, req.maxWaitMs);
      if (body.errorCode !== ErrorCode.NONE) return { ok: false, error: errorCodeName(body.errorCode) };
      const p = body.responses[0]?.partitions[0];
      if (p === undefined) return { ok: false, error: 'the leader answered no partition' };
      if (p.errorCode !== ErrorCode.NONE) return { ok: false, error: errorCodeName(p.errorCode) };
      return { ok: true, batches: wholeBatches(p.records), highWatermark: Number(p.highWatermark), logStartOffset: Number(p.logStartOffset) };
    } catch (err) {
      this.drop();
      return { ok: false, error: (err as Error).message };
    }
  }

  /**
   * Kafka's follower asks its leader for its log start or end (ListOffsets with the replica id,
   * earliest -2 or latest -1): what it needs after OFFSET_OUT_OF_RANGE.
   */
  async listOffset(req: ReplicaOffsetRequest): Promise<ReplicaOffsetResult> {
    try {
      const body = await this.request(LIST_OFFSETS, LIST_OFFSETS_VERSION, req, {
        replicaId: req.replicaId,
        isolationLevel: 0,
        topics: [{ name: req.stream, partitions: [{ partitionIndex: req.partition, currentLeaderEpoch: req.epoch, timestamp: req.which === 'earliest' ? -2n : -1n, maxNumOffsets: 1 }] }],
        timeoutMs: 0,
      }, 0);
      const p = body.topics[0]?.partitions[0];
      if (p === undefined) return { ok: false, error: 'the leader answered no partition' };
      if (p.errorCode !== ErrorCode.NONE) return { ok: false, error: errorCodeName(p.errorCode) };
      return { ok: true, offset: Number(p.offset) };
    } catch (err) {
      this.drop();
      return { ok: false, error: (err as Error).message };
    }
  }

  /** One request on this session's connection, its answer decoded; given up `waitMs` + ANSWER_GRACE_MS after. */
  private async request<K extends ApiKeyNumber>(apiKey: K, version: number, at: { host: string; port: number }, body: Input<RequestOf<K>>, waitMs: number): Promise<ResponseOf<K>> {
    let socket = this.socket;
    if (socket === undefined) {
      socket = await this.connect(at.host, at.port);
      try {
        await this.login(socket);
      } catch (err) {
        this.drop();
        throw err;
      }
    }
    return this.send(socket, apiKey, version, body, waitMs);
  }

  /** SaslHandshake v1 + SaslAuthenticate: PLAIN as the link user in this session's vhost. */
  private async login(socket: Socket): Promise<void> {
    const secret = this.secret();
    if (secret === undefined) throw new Error('the cluster secret is not known yet');
    const hs = await this.send(socket, SASL_HANDSHAKE, 1, { mechanism: 'PLAIN' }, 0);
    if (hs.errorCode !== ErrorCode.NONE) throw new Error(`the leader refused SASL PLAIN: ${errorCodeName(hs.errorCode)}`);
    const login = this.vhost === '/' ? CLUSTER_LINK_USER : `${this.vhost}:${CLUSTER_LINK_USER}`;
    const authBytes = Buffer.from(`\u0000${login}\u0000${secret}`, 'utf8');
    const auth = await this.send(socket, SASL_AUTHENTICATE, 1, { authBytes }, 0);
    if (auth.errorCode !== ErrorCode.NONE) throw new Error(`the leader refused the cluster login in vhost '${this.vhost}': ${auth.errorMessage ?? errorCodeName(auth.errorCode)}`);
  }

  private async send<K extends ApiKeyNumber>(socket: Socket, apiKey: K, version: number, body: Input<RequestOf<K>>, waitMs: number): Promise<ResponseOf<K>> {
    const correlationId = this.nextCorrelationId++;
    const frame = encodeRequest(apiKey, version, correlationId, 'wharf-replica', body);
    const answer = new Promise<Buffer>((resolve, reject) => (this.pending = { correlationId, resolve, reject }));
    for (const chunk of frame) socket.write(chunk);
    const ms = waitMs + ANSWER_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from ${this.where} within ${ms} ms`)), ms);
    });
    return decodeResponse(apiKey, version, await Promise.race([answer, late]).finally(() => clearTimeout(timer))).body;
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new Error(`connection to ${this.where} closed`));
  }

  private connect(host: string, port: number): Promise<Socket> {
    if (this.closed) return Promise.reject(new Error('the replica session is closed'));
    if (this.socket !== undefined) return Promise.resolve(this.socket);
    this.where = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port, noDelay: true });
      const timer = setTimeout(() => socket.destroy(new Error(`no connection to ${this.where} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      const parser = new KafkaFrameParser({
        onFrame: (frame) => {
          const p = this.pending;
          this.pending = undefined;
          if (p !== undefined && frame.readInt32BE(0) === p.correlationId) p.resolve(frame);
          else p?.reject(new Error(`unexpected response from ${this.where}`));
        },
        onError: (e) => this.fail(socket, e),
      });
      socket.on('data', (chunk: Buffer) => parser.push(chunk));
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        resolve(socket);
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.fail(socket, err);
      });
      socket.on('close', () => this.fail(socket, new Error(`connection to ${this.where} lost`)));
    });
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

/** The whole batches of a records field (a size limit may cut the last one short). */
function wholeBatches(records: Buffer | null): Buffer[] {
  const out: Buffer[] = [];
  if (records === null) return out;
  let at = 0;
  while (at + BATCH_LOG_OVERHEAD_BYTES <= records.length) {
    const size = records.readInt32BE(at + 8) + BATCH_LOG_OVERHEAD_BYTES;
    if (at + size > records.length) break;
    out.push(records.subarray(at, at + size));
    at += size;
  }
  return out;
}
