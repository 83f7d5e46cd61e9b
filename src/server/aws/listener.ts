// The AWS APIs' HTTP listener (--aws-port, 4566 as LocalStack): every request is
// SigV4-verified against the configured credentials, each of which maps to a vhost,
// then dispatched by protocol. This slice speaks SQS's AWS JSON 1.0 protocol
// (X-Amz-Target: AmazonSQS.<Action>, what AWS SDK v3 sends); the query protocol and
// SNS come next. Errors are AWS's: {"__type", "message"} plus x-amzn-query-error.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../../broker/broker.js';
import { BrokerError } from '../../broker/errors.js';
import type { Logger } from '../../store/index.js';
import { isLoopback } from '../../util/loopback.js';
import { AwsError } from './errors.js';
import { verifySignature, type Credential } from './sigv4.js';
import { SqsReceiver } from './sqs/receiver.js';
import { SqsService, type SqsContext } from './sqs/service.js';

/** An access key: its secret, the vhost it works in, and whether only loopback peers may use it. */
export interface AwsCredential extends Credential {
  readonly vhost: string;
  readonly loopbackOnly: boolean;
}

export interface AwsListenerOptions {
  readonly port: number;
  readonly host: string;
  readonly region: string;
  readonly account: string;
  readonly credentials: readonly AwsCredential[];
}

/** `test:test` on vhost `/`, loopback only: what LocalStack users point their SDKs at (as RabbitMQ's guest). */
export const DEFAULT_AWS_CREDENTIALS: readonly AwsCredential[] = [{ accessKey: 'test', secret: 'test', vhost: '/', loopbackOnly: true }];
export const DEFAULT_AWS_REGION = 'us-east-1';
export const DEFAULT_AWS_ACCOUNT = '000000000000';

/** Larger request bodies are refused (a 1 MiB message, base64 attributes and JSON around it fit). */
const BODY_BYTES_MAX = 4 * 1024 * 1024;
const JSON_TYPE = 'application/x-amz-json-1.0';

type Handler = (svc: SqsService, params: Record<string, unknown>) => unknown;

/** The SQS actions this slice serves, by X-Amz-Target suffix. */
const SQS_ACTIONS: Readonly<Record<string, Handler>> = {
  CreateQueue: (s, p) => s.CreateQueue(p),
  GetQueueUrl: (s, p) => s.GetQueueUrl(p),
  ListQueues: (s, p) => s.ListQueues(p),
  DeleteQueue: (s, p) => s.DeleteQueue(p),
  GetQueueAttributes: (s, p) => s.GetQueueAttributes(p),
  PurgeQueue: (s, p) => s.PurgeQueue(p),
  SendMessage: (s, p) => s.SendMessage(p),
  SendMessageBatch: (s, p) => s.SendMessageBatch(p),
  ReceiveMessage: (s, p) => s.ReceiveMessage(p),
  DeleteMessage: (s, p) => s.DeleteMessage(p),
  DeleteMessageBatch: (s, p) => s.DeleteMessageBatch(p),
  ChangeMessageVisibility: (s, p) => s.ChangeMessageVisibility(p),
};

export class AwsListener {
  private readonly server: Server;
  private readonly byKey: Map<string, AwsCredential>;
  /** One receiver (the leases of received messages) per vhost, for the listener's life. */
  private readonly receivers = new Map<string, SqsReceiver>();

  constructor(
    private readonly broker: Broker,
    private readonly opts: AwsListenerOptions,
    private readonly logger: Logger,
  ) {
    this.byKey = new Map(opts.credentials.map((c) => [c.accessKey, c]));
    this.server = createServer({ keepAlive: true }, (req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** ReceiveMessage calls waiting (long polls), across vhosts. */
  get waiting(): number {
    let n = 0;
    for (const r of this.receivers.values()) n += r.waiters.size;
    return n;
  }

  close(): Promise<void> {
    for (const r of this.receivers.values()) r.close();
    this.receivers.clear();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // Continuations rather than an async frame, and the request id made when answering:
    // a long poll keeps all this for up to 20 s.
    readBody(req)
      .then((body) => this.dispatch(req, body, res))
      .then((result) => send(res, 200, randomUUID(), JSON.stringify(result ?? {})))
      .catch((err: unknown) => this.fail(res, err));
  }

  private fail(res: ServerResponse, err: unknown): void {
    const requestId = randomUUID();
    const e = toAwsError(err);
    if (e.status >= 500) this.logger.error('AWS API request failed', { error: String(err), requestId });
    const out: Record<string, string> = { __type: `com.amazonaws.sqs#${e.code}`, message: e.message };
    send(res, e.status, requestId, JSON.stringify(out), { 'x-amzn-query-error': `${e.queryCode ?? e.code};${e.fault}` });
  }

  /** The action's answer, or a promise of it (not async itself: a long poll holds one promise fewer). */
  private dispatch(req: IncomingMessage, body: Buffer, res: ServerResponse): unknown {
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    const lookup = (key: string): Credential | undefined => this.byKey.get(key);
    const signed = verifySignature({ method: req.method ?? 'POST', path, query, headers: req.headers, body }, lookup);
    const cred = this.byKey.get(signed.accessKey) as AwsCredential;
    if (cred.loopbackOnly && !isLoopback(req.socket.remoteAddress ?? '')) {
      throw new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const [service, action] = target.split('.', 2);
    if (service !== 'AmazonSQS' || action === undefined || !Object.hasOwn(SQS_ACTIONS, action)) {
      throw new AwsError('UnknownOperationException', `Unknown operation ${target}`, 400);
    }
    let params: unknown;
    try {
      params = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new AwsError('SerializationException', 'Start of structure or map found where not expected.', 400);
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new AwsError('SerializationException', 'Start of structure or map found where not expected.', 400);
    }
    const vhost = this.broker.vhost(cred.vhost);
    if (!vhost) throw new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    let receiver = this.receivers.get(vhost.name);
    if (!receiver) this.receivers.set(vhost.name, (receiver = new SqsReceiver(vhost, this.broker.store)));
    const ctx: SqsContext = {
      broker: this.broker,
      vhost,
      receiver,
      endpoint: `http://${String(req.headers.host ?? `${this.opts.host}:${this.opts.port}`)}`,
      region: signed.region,
      account: this.opts.account,
      life: new ResponseLife(res),
    };
    return SQS_ACTIONS[action](new SqsService(ctx), params as Record<string, unknown>);
  }
}

/** A request is gone when its connection closed before the answer was written (a long poll's client gave up). */
class ResponseLife {
  constructor(private readonly res: ServerResponse) {}

  gone(): boolean {
    // The request's socket, not the response's: a pipelined response has none until its turn.
    return this.res.destroyed || this.res.req.socket.destroyed;
  }

  answered(): boolean {
    return this.res.writableFinished;
  }

  onGone(fn: () => void): void {
    // Also after the answer (`close` ends every response); the waiter is done by then, so it is a no-op.
    this.res.on('close', fn);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > BODY_BYTES_MAX) {
        reject(new AwsError('RequestEntityTooLarge', `Request bodies are limited to ${BODY_BYTES_MAX} bytes.`, 413));
        req.destroy();
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => {
      // These listeners go (the error one stays, so a late error is never unhandled): a
      // waiting request (a long poll) would keep them, and the chunks, alive until answered.
      req.off('data', onData);
      req.off('end', onEnd);
      resolve(Buffer.concat(chunks));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

function toAwsError(err: unknown): AwsError {
  if (err instanceof AwsError) return err;
  if (err instanceof BrokerError) {
    // The broker refused (a queue's arguments, a limit): the client's fault, with the broker's text.
    return new AwsError('InvalidParameterValue', err.message, 400);
  }
  return new AwsError('InternalError', 'We encountered an internal error. Please try again.', 500);
}

function send(res: ServerResponse, status: number, requestId: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': JSON_TYPE, 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
