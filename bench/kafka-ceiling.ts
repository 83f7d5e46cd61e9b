// The Kafka ceiling: a do-nothing Kafka endpoint on the project's codecs (src/protocol/kafka).
// It answers just enough of the protocol for `wharf perf-kafka` and other clients to run their
// usual traffic: ApiVersions, Metadata (itself as the only broker, leader of every partition),
// CreateTopics, DeleteTopics, ListOffsets, Produce and Fetch. A Produce is answered at once:
// the batches' record counts move the partition's end offset and nothing is checked or stored.
// A Fetch is served from one prebuilt batch (--batch-records records of --size bytes, values
// without creation times, so no end-to-end latency is recorded): as many copies as fit the
// request's limits, each with its base offset set (outside the CRC, so the batch bytes are
// shared), up to the end offset that produces have reached; a fetch at the end waits for a
// produce or max_wait_ms, as Kafka's long poll does. Responses leave in request order, one
// corked write per socket read. What a client reaches against it on this machine is what
// Node.js, the codecs and the sockets can move: the ceiling Wharf's Kafka numbers are stated
// against (bench/README.md).
//
//   node dist/bench/kafka-ceiling.js [--port 0] [--host 127.0.0.1] [--size 100] [--batch-records 1000]
//   prints "kafka-ceiling listening kafka=HOST:PORT"

import { createServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  ErrorCode,
  KafkaFrameParser,
  buildRecordBatchSync,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
  type ApiKeyNumber,
  type KafkaRequest,
} from '../src/protocol/kafka/index.js';

/** The versions it advertises: what Wharf serves of these APIs. */
const VERSIONS: ReadonlyMap<number, { min: number; max: number }> = new Map([
  [0, { min: 3, max: 11 }],
  [1, { min: 4, max: 12 }],
  [2, { min: 1, max: 10 }],
  [3, { min: 0, max: 12 }],
  [18, { min: 0, max: 3 }],
  [19, { min: 0, max: 7 }],
  [20, { min: 0, max: 5 }],
]);

const NODE_ID = 0;
const LOG_OVERHEAD_BYTES = 12;

interface Slot {
  frames: Buffer[] | undefined;
  done: boolean;
}

/** A topic's partitions: each one's end offset. */
type Topic = number[];

export interface KafkaCeilingOptions {
  /** Value bytes of the records in the prebuilt fetch batch. */
  readonly sizeBytes: number;
  /** Records in the prebuilt fetch batch. */
  readonly batchRecords: number;
}

export class KafkaCeiling {
  readonly server: Server;
  private readonly topics = new Map<string, Topic>();
  private readonly batches = new Map<number, Buffer>();
  private readonly waiters = new Set<() => void>();
  readonly connections = new Set<Socket>();
  private host = '127.0.0.1';
  private port = 0;

  constructor(private readonly opts: KafkaCeilingOptions) {
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const addr = this.server.address();
        this.host = host;
        this.port = typeof addr === 'object' && addr !== null ? addr.port : port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.connections) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** A batch of n records (cached): the prebuilt one, or a shorter one for the end of a partition. */
  private batch(n: number): Buffer {
    let b = this.batches.get(n);
    if (!b) {
      // Zeros where perf-kafka puts the creation time (so consumers record no latency), then letters.
      const value = Buffer.alloc(this.opts.sizeBytes, 65).fill(0, 0, Math.min(8, this.opts.sizeBytes));
      b = buildRecordBatchSync({ records: Array.from({ length: n }, () => ({ value })), baseTimestamp: BigInt(Date.now()) });
      this.batches.set(n, b);
    }
    return b;
  }

  private accept(socket: Socket): void {
    this.connections.add(socket);
    const queue: Slot[] = [];
    let inRead = false;
    const flush = (): void => {
      let n = 0;
      while (n < queue.length && queue[n].done) n++;
      if (n === 0 || socket.destroyed) return;
      socket.cork();
      for (const s of queue.splice(0, n)) for (const f of s.frames ?? []) socket.write(f);
      socket.uncork();
    };
    const parser = new KafkaFrameParser({
      onFrame: (frame) => {
        let req: KafkaRequest;
        try {
          req = decodeRequest(frame, decodeRequestHeader(frame));
        } catch {
          socket.destroy();
          return;
        }
        const slot: Slot = { frames: undefined, done: false };
        queue.push(slot);
        const answer = (body: unknown): void => {
          if (body !== undefined) slot.frames = encodeResponse(req.apiKey as ApiKeyNumber, req.apiVersion, req.correlationId, body as never);
          slot.done = true;
          if (!inRead) flush();
        };
        this.handle(req, answer, () => socket.destroy());
      },
      onError: () => socket.destroy(),
    });
    socket.on('data', (chunk: Buffer) => {
      inRead = true;
      parser.push(chunk);
      inRead = false;
      flush();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.connections.delete(socket));
  }

  private handle(req: KafkaRequest, answer: (body: unknown) => void, refuse: () => void): void {
    switch (req.apiKey) {
      case 18:
        return answer({ errorCode: 0, apiKeys: [...VERSIONS].map(([apiKey, r]) => ({ apiKey, minVersion: r.min, maxVersion: r.max })), throttleTimeMs: 0 });
      case 3:
        return answer(this.metadata(req.body.topics === null ? null : req.body.topics.map((t) => t.name ?? '')));
      case 19:
        return answer({
          throttleTimeMs: 0,
          topics: req.body.topics.map((t) => {
            const exists = this.topics.has(t.name);
            if (!exists) this.topics.set(t.name, new Array<number>(t.numPartitions > 0 ? t.numPartitions : 1).fill(0));
            return {
              name: t.name,
              errorCode: exists ? ErrorCode.TOPIC_ALREADY_EXISTS : ErrorCode.NONE,
              errorMessage: null,
              numPartitions: this.topics.get(t.name)?.length ?? -1,
              replicationFactor: 1,
              configs: [],
            };
          }),
        });
      case 20:
        return answer({
          throttleTimeMs: 0,
          responses: req.body.topicNames.map((name) => ({ name, errorCode: this.topics.delete(name) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null })),
        });
      case 2:
        return answer({
          throttleTimeMs: 0,
          topics: req.body.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => {
              const end = this.topics.get(t.name)?.[p.partitionIndex];
              const offset = end === undefined ? -1 : p.timestamp === -2n ? 0 : end;
              return { partitionIndex: p.partitionIndex, errorCode: end === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : 0, timestamp: -1n, offset: BigInt(offset), leaderEpoch: 0 };
            }),
          })),
        });
      case 0:
        return answer(this.produce(req.body));
      case 1:
        return this.fetch(req.body, answer);
      default:
        refuse();
    }
  }

  private metadata(names: string[] | null): unknown {
    const wanted = names ?? [...this.topics.keys()];
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: NODE_ID, host: this.host, port: this.port, rack: null }],
      clusterId: 'kafka-ceiling',
      controllerId: NODE_ID,
      topics: wanted.map((name) => {
        let t = this.topics.get(name);
        if (!t) this.topics.set(name, (t = [0]));
        return {
          errorCode: 0,
          name,
          isInternal: false,
          partitions: t.map((_, i) => ({ errorCode: 0, partitionIndex: i, leaderId: NODE_ID, leaderEpoch: 0, replicaNodes: [NODE_ID], isrNodes: [NODE_ID], offlineReplicas: [] })),
        };
      }),
    };
  }

  /** Moves each partition's end offset by the records in its batches; answers at once. */
  private produce(body: Extract<KafkaRequest, { apiKey: 0 }>['body']): unknown {
    const responses = body.topicData.map((t) => {
      const topic = this.topics.get(t.name);
      return {
        name: t.name,
        partitionResponses: t.partitionData.map((p) => {
          if (!topic || topic[p.index] === undefined) return { index: p.index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1n };
          const baseOffset = topic[p.index];
          const records = p.records ?? Buffer.alloc(0);
          let at = 0;
          while (at + 61 <= records.length) {
            topic[p.index] += records.readInt32BE(at + 23) + 1;
            at += LOG_OVERHEAD_BYTES + records.readInt32BE(at + 8);
          }
          return { index: p.index, errorCode: 0, baseOffset: BigInt(baseOffset), logAppendTimeMs: -1n, logStartOffset: 0n };
        }),
      };
    });
    if (this.waiters.size > 0) for (const w of [...this.waiters]) w();
    return body.acks === 0 ? undefined : { responses, throttleTimeMs: 0 };
  }

  private fetch(body: Extract<KafkaRequest, { apiKey: 1 }>['body'], answer: (body: unknown) => void): void {
    const respond = (): boolean => {
      let budget = body.maxBytes;
      let any = false;
      const responses = body.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          const end = this.topics.get(t.topic)?.[p.partition];
          if (end === undefined) return { partitionIndex: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: null };
          const parts: Buffer[] = [];
          let offset = Number(p.fetchOffset);
          let bytes = 0;
          const limit = Math.min(p.partitionMaxBytes, budget);
          while (offset < end) {
            const b = this.batch(Math.min(this.opts.batchRecords, end - offset));
            if (bytes + b.length > limit && (bytes > 0 || any)) break;
            const head = Buffer.allocUnsafe(8);
            head.writeBigInt64BE(BigInt(offset));
            parts.push(head, b.subarray(8));
            bytes += b.length;
            offset += b.readInt32BE(57);
          }
          budget -= bytes;
          any ||= bytes > 0;
          return { partitionIndex: p.partition, errorCode: 0, highWatermark: BigInt(end), lastStableOffset: BigInt(end), logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1, records: parts as unknown as Buffer };
        }),
      }));
      if (!any && body.maxWaitMs > 0 && body.minBytes > 0) return false;
      answer({ throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses });
      return true;
    };
    if (respond()) return;
    // Nothing to send: wait for a produce or max_wait_ms, then answer with what is there.
    const done = (): void => {
      clearTimeout(timer);
      this.waiters.delete(wake);
      if (!respond()) answer({ throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: body.topics.map((t) => ({ topic: t.topic, partitions: [] })) });
    };
    const wake = (): void => done();
    const timer = setTimeout(done, body.maxWaitMs);
    this.waiters.add(wake);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      size: { type: 'string', default: '100' },
      'batch-records': { type: 'string', default: '1000' },
    },
  });
  const ceiling = new KafkaCeiling({ sizeBytes: Number(values.size), batchRecords: Number(values['batch-records']) });
  const port = await ceiling.listen(Number(values.port), values.host as string);
  process.stdout.write(`kafka-ceiling listening kafka=${values.host}:${port}\n`);
  const stop = (): void => void ceiling.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`kafka-ceiling: ${String(err)}\n`);
    process.exit(1);
  });
}
