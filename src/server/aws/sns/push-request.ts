// One HTTP/S POST of an SNS push, and what SNS makes of its answer: a status from
// 200 to 499 is a delivery, anything else (5xx, 1xx, no answer within 15 s, a refused
// or reset connection) a failed attempt to retry (docs.aws.amazon.com/sns/latest/dg/
// SendMessageToHttp.prepare.html: "If your endpoint does not respond before the
// connection times out or if your endpoint returns a status code outside the range
// of 200-4xx, Amazon SNS will consider the delivery of the message as a failed
// attempt"). An endpoint that can never be pushed to (not an http/https URL) is a
// client-side error: SNS does not retry those.
//
// SocketBudget bounds the requests in flight across every subscription.

import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';

/** SNS's per-request timeout: "The connection will time out in 15 seconds." */
export const REQUEST_TIMEOUT_MS = 15_000;
export const USER_AGENT = 'Amazon Simple Notification Service Agent';

export type PushOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  /** A server-side failure: retried by the delivery policy. */
  | { readonly kind: 'retry'; readonly reason: string }
  /** A client-side failure: never retried. */
  | { readonly kind: 'fail'; readonly reason: string };

export interface PushRequest {
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Keep-alive agents for every subscription's pushes (one socket pool per endpoint host). */
export class PushAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;

  constructor(socketsMax: number, tls: HttpsAgentOptions = {}) {
    const common = { keepAlive: true, maxTotalSockets: socketsMax, maxFreeSockets: 16, scheduling: 'lifo' as const };
    this.http = new HttpAgent(common);
    this.https = new HttpsAgent({ ...common, ...tls });
  }

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** The requests in flight, bounded: acquire() waits for a free slot. */
export class SocketBudget {
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly max: number,
    /** Called when a slot frees up after the budget was full (pushers may take more messages). */
    private readonly onFree: () => void,
  ) {}

  get available(): boolean {
    return this.inFlight + this.waiters.length < this.max;
  }

  /** Takes a slot now if one is free (no waiting). */
  take(): boolean {
    if (this.inFlight >= this.max) return false;
    this.inFlight++;
    return true;
  }

  acquire(): Promise<void> {
    if (this.inFlight < this.max) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      next();
      return;
    }
    const wasFull = this.inFlight >= this.max;
    this.inFlight--;
    if (wasFull) this.onFree();
  }
}

/** Parses a subscription endpoint; undefined when it is no http(s) URL SNS could push to. */
export function pushUrl(endpoint: string): URL | undefined {
  try {
    const url = new URL(endpoint);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** POSTs once; resolves with the outcome, never rejects. `signal` aborts it (the pusher stopped). */
export function postOnce(req: PushRequest, agents: PushAgents, timeoutMs: number, signal: AbortSignal): Promise<PushOutcome> {
  const url = pushUrl(req.endpoint);
  if (!url) return Promise.resolve({ kind: 'fail', reason: `not an http or https URL: ${req.endpoint}` });
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: PushOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const r = send(url, {
      method: 'POST',
      agent: url.protocol === 'https:' ? agents.https : agents.http,
      headers: { ...req.headers, 'content-length': String(req.body.length) },
      signal,
    });
    // The whole exchange, not just an idle socket, must end within the timeout.
    const timer = setTimeout(() => {
      finish({ kind: 'retry', reason: `no response within ${timeoutMs} ms` });
      r.destroy();
    }, timeoutMs);
    r.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      // The body is not read, only drained, so the socket can be reused.
      res.resume();
      res.on('error', () => {});
      finish(status >= 200 && status <= 499 ? { kind: 'delivered', status } : { kind: 'retry', reason: `HTTP status ${status}` });
    });
    r.on('error', (err) => finish({ kind: 'retry', reason: err.message }));
    r.end(req.body);
  });
}
