// A bare Kafka connection for tests that need an API or a version no client library sends
// (DescribeTransactions, ListTransactions, old request versions): requests encoded with Wharf's
// generated codecs, responses decoded with them, one at a time.

import { type Socket, connect } from 'node:net';
import {
  type ApiKeyNumber,
  type Input,
  KafkaFrameParser,
  type RequestOf,
  type ResponseOf,
  decodeResponse,
  encodeRequest,
} from '../../src/protocol/kafka/index.js';

export class RawKafka {
  private correlationId = 0;
  private readonly frames: Buffer[] = [];
  private waiting: ((f: Buffer) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    const parser = new KafkaFrameParser({
      onFrame: (f) => {
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(Buffer.from(f));
        } else this.frames.push(Buffer.from(f));
      },
      onError: (err) => socket.destroy(err),
    });
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => parser.push(d));
  }

  static connect(bootstrap: string): Promise<RawKafka> {
    const [host, port] = bootstrap.split(':');
    return new Promise((resolve, reject) => {
      const s = connect({ host, port: Number(port) }, () => resolve(new RawKafka(s)));
      s.once('error', reject);
    });
  }

  /** Sends one request and resolves with the decoded response body. */
  async request<K extends ApiKeyNumber>(apiKey: K, version: number, body: Input<RequestOf<K>>): Promise<ResponseOf<K>> {
    const id = ++this.correlationId;
    this.socket.cork();
    for (const b of encodeRequest(apiKey, version, id, 'wharf-raw-test', body)) this.socket.write(b);
    this.socket.uncork();
    const frame = this.frames.shift() ?? (await new Promise<Buffer>((resolve, reject) => {
      const closed = (): void => reject(new Error('connection closed before the response'));
      this.socket.once('close', closed);
      this.waiting = (f) => {
        this.socket.off('close', closed);
        resolve(f);
      };
    }));
    const r = decodeResponse(apiKey, version, frame);
    if (r.correlationId !== id) throw new Error(`correlation id ${r.correlationId}, expected ${id}`);
    return r.body;
  }

  close(): void {
    this.socket.destroy();
  }
}
