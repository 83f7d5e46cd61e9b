// A local HTTP endpoint for SNS push subscriptions: it records every request (headers
// and body) and lets the test decide each answer, so retries, timeouts and failures
// are the endpoint's real behaviour, not a mock of Wharf.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Collector } from './async.js';

export interface Hit {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** Answers the n-th request (from 0); may leave it unanswered. */
export type Answer = (hit: Hit, n: number, res: ServerResponse) => void;

export class HttpEndpoint {
  readonly hits = new Collector<Hit>();
  answer: Answer = (_h, _n, res) => res.writeHead(200).end();
  url = '';
  /** Requests being answered now, and the most there ever were. */
  open = 0;
  openMax = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const hit: Hit = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const n = this.hits.length;
        this.open++;
        this.openMax = Math.max(this.openMax, this.open);
        res.on('close', () => this.open--);
        this.hits.push(hit);
        this.answer(hit, n, res);
      });
    });
  }

  async listen(path = '/sns'): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  /** The requests of one x-amz-sns-message-type so far. */
  ofType(type: string): Hit[] {
    return this.hits.items.filter((h) => h.headers['x-amz-sns-message-type'] === type);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
