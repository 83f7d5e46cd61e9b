// A raw Kafka connection for tests that send what no client library would: bytes of our
// choosing, requests built with the codecs, and responses read frame by frame. Also an
// in-process Kafka server (broker + listener) whose internals a test may inspect: partition
// watchers, connection backlogs.

import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, DEFAULT_VHOST } from '../../src/broker/broker.js';
import type { Vhost } from '../../src/broker/vhost.js';
import {
  KafkaFrameParser,
  decodeResponse,
  encodeRequest,
  type ApiKeyNumber,
  type Input,
  type RequestOf,
  type ResponseOf,
} from '../../src/protocol/kafka/index.js';
import { KafkaListener, type KafkaListenerOptions } from '../../src/server/kafka/listener.js';
import { createLogger } from '../../src/util/logger.js';
import { WAIT_MS, withTimeout } from './async.js';

const open = new Set<RawKafka>();

export class RawKafka {
  private readonly frames: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private correlation = 1;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(readonly socket: Socket) {
    const parser = new KafkaFrameParser({ onFrame: (f) => this.onFrame(Buffer.from(f)), onError: () => socket.destroy() }, 0);
    socket.on('data', (c: Buffer) => parser.push(c));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        open.delete(this);
        this.waiter?.();
        resolve();
      });
    });
    open.add(this);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawKafka> {
    const socket = connect({ port, host });
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }), WAIT_MS, 'kafka connect');
    return new RawKafka(socket);
  }

  private onFrame(f: Buffer): void {
    this.frames.push(f);
    this.waiter?.();
  }

  write(bytes: Buffer | Buffer[]): void {
    for (const b of Array.isArray(bytes) ? bytes : [bytes]) this.socket.write(b);
  }

  /** Sends a request built by the codecs; returns its correlation id. */
  send<K extends ApiKeyNumber>(apiKey: K, version: number, body: Input<RequestOf<K>>, clientId: string | null = 'raw'): number {
    const id = this.correlation++;
    this.write(encodeRequest(apiKey, version, id, clientId, body));
    return id;
  }

  /** The next response frame (without size prefix), or undefined if the socket closed or `ms` passed. */
  async next(ms = WAIT_MS): Promise<Buffer | undefined> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0 && !this.isClosed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.frames.shift();
  }

  /** Sends a request and decodes its response; throws if the connection closes instead. */
  async call<K extends ApiKeyNumber>(apiKey: K, version: number, body: Input<RequestOf<K>>): Promise<ResponseOf<K>> {
    const id = this.send(apiKey, version, body);
    const f = await this.next();
    if (!f) throw new Error(`no response to api key ${apiKey} v${version}: ${this.isClosed ? 'connection closed' : 'timed out'}`);
    const r = decodeResponse(apiKey, version, f);
    if (r.correlationId !== id) throw new Error(`response for correlation id ${r.correlationId}, expected ${id}`);
    return r.body;
  }

  /** Resolves true if the server closes the connection within `ms`. */
  async closesWithin(ms = WAIT_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    return Promise.race([this.closed.then(() => true), late]).finally(() => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }

  static destroyAll(): void {
    for (const r of open) r.destroy();
  }
}

/** A size-prefixed frame around `body`. */
export function sized(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** A request header v1 (api key, version, correlation id, client id) followed by `body`. */
export function rawRequest(apiKey: number, version: number, correlationId: number, body: Buffer = Buffer.alloc(0), clientId = 'raw'): Buffer {
  const h = Buffer.alloc(10 + Buffer.byteLength(clientId));
  h.writeInt16BE(apiKey, 0);
  h.writeInt16BE(version, 2);
  h.writeInt32BE(correlationId, 4);
  h.writeInt16BE(Buffer.byteLength(clientId), 8);
  h.write(clientId, 10);
  return sized(Buffer.concat([h, body]));
}

export interface KafkaServer {
  readonly broker: Broker;
  readonly vhost: Vhost;
  readonly listener: KafkaListener;
  readonly port: number;
  readonly bootstrap: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** A broker and a Kafka listener in this process on a free port with a fresh data dir. */
export async function startKafkaServer(opts: Partial<KafkaListenerOptions> & { dataDir?: string } = {}): Promise<KafkaServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'wharf-kafka-')));
  const logger = createLogger('silent');
  const broker = await Broker.open({ dataDir, fsync: 'batch', logger });
  const vhost = broker.vhost(DEFAULT_VHOST) as Vhost;
  const listener = new KafkaListener(broker, vhost, { host: '127.0.0.1', port: 0, autoCreateTopics: true, ...opts }, logger);
  const { port } = await listener.listen();
  return {
    broker,
    vhost,
    listener,
    port,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    async close() {
      await listener.close();
      await broker.close();
      if (opts.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
