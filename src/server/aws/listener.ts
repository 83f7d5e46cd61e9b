// The AWS APIs' HTTP listener (--aws-port, 4566 as LocalStack): every request is
// SigV4-verified against the configured credentials, each of which maps to a vhost,
// then dispatched to a service (services.ts) in one of two wire protocols:
// - AWS JSON 1.0 (X-Amz-Target: AmazonSQS.<Action>, what AWS SDK v3 sends for SQS):
//   errors are {"__type", "message"} plus x-amzn-query-error;
// - the query protocol (Action=<Action>&... form-encoded in a POST body or a GET query
//   string, what boto3, the AWS CLI and SDK v3's SNS client send): replies and errors
//   in XML (src/protocol/aws). The service is the credential scope's (sqs, sns), or
//   else the one whose model has the action.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../../broker/broker.js';
import { BrokerError } from '../../broker/errors.js';
import type { Logger } from '../../store/index.js';
import { isLoopback } from '../../util/loopback.js';
import { QueryProtocolError, SNS_MODEL, SQS_MODEL, decodeQuery, encodeQueryError, encodeQueryResponse, operationOf, parseForm, type ServiceModel } from '../../protocol/aws/index.js';
import { AwsError } from './errors.js';
import { AWS_SERVICES, type AwsContext, type AwsService } from './services.js';
import { verifySignature, type Credential } from './sigv4.js';
import { snsLink, type LinkReply } from './sns/links.js';
import { SnsPushWorker } from './sns/push-worker.js';
import { SnsRegistry } from './sns/registry.js';
import { SqsReceiver } from './sqs/receiver.js';

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
  /** The broker's data dir: SNS keeps its signing key there. */
  readonly dataDir: string;
}

/** `test:test` on vhost `/`, loopback only: what LocalStack users point their SDKs at (as RabbitMQ's guest). */
export const DEFAULT_AWS_CREDENTIALS: readonly AwsCredential[] = [{ accessKey: 'test', secret: 'test', vhost: '/', loopbackOnly: true }];
export const DEFAULT_AWS_REGION = 'us-east-1';
export const DEFAULT_AWS_ACCOUNT = '000000000000';

/** Larger request bodies are refused (a 1 MiB message, base64 attributes and JSON around it fit). */
const BODY_BYTES_MAX = 4 * 1024 * 1024;
const JSON_TYPE = 'application/x-amz-json-1.0';

const XML_TYPE = 'text/xml';

/** How a request came, so its reply and errors go back the same way. */
interface Call {
  readonly wire: 'json' | 'query';
  service?: AwsService;
  action?: string;
}

export class AwsListener {
  private readonly server: Server;
  private readonly byKey: Map<string, AwsCredential>;
  /** One receiver (the leases of received messages) per vhost, for the listener's life. */
  private readonly receivers = new Map<string, SqsReceiver>();
  /** SNS's topics per vhost, signing key, and the subscriptions hook (the HTTP push worker's). */
  readonly sns: SnsRegistry;
  /** Pushes http/https subscriptions' messages to their endpoints (sns/http-push.ts). */
  readonly snsPushes: SnsPushWorker;

  constructor(
    private readonly broker: Broker,
    private readonly opts: AwsListenerOptions,
    private readonly logger: Logger,
  ) {
    this.byKey = new Map(opts.credentials.map((c) => [c.accessKey, c]));
    this.sns = new SnsRegistry(opts.dataDir);
    const vhosts = [...new Set(opts.credentials.map((c) => c.vhost))];
    this.snsPushes = new SnsPushWorker(broker, this.sns, logger, { region: opts.region, account: opts.account, vhosts });
    this.server = createServer({ keepAlive: true }, (req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    // Subscriptions recovered from disk are pushed again (their unacked messages came back to their queues).
    this.snsPushes.start();
    return { host: a.address, port: a.port };
  }

  /** ReceiveMessage calls waiting (long polls), across vhosts. */
  get waiting(): number {
    let n = 0;
    for (const r of this.receivers.values()) n += r.waiters.size;
    return n;
  }

  close(): Promise<void> {
    this.snsPushes.close();
    for (const r of this.receivers.values()) r.close();
    this.receivers.clear();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const ex: Call = { wire: isJsonRequest(req) ? 'json' : 'query' };
    try {
      const body = await readBody(req);
      const link = await this.snsLink(req, requestId);
      if (link) {
        send(res, link.status, requestId, link.contentType, link.body);
        return;
      }
      const result = await this.dispatch(req, res, body, ex);
      if (ex.wire === 'json') send(res, 200, requestId, JSON_TYPE, JSON.stringify(result ?? {}));
      else send(res, 200, requestId, XML_TYPE, encodeQueryResponse((ex.service as AwsService).model, ex.action as string, result, requestId));
    } catch (err) {
      const e = toAwsError(err);
      if (e.status >= 500) this.logger.error('AWS API request failed', { error: String(err), requestId });
      if (ex.wire === 'json') {
        const type = (e.queryCode === undefined ? ex.service?.jsonErrorCodes?.[e.code] : undefined) ?? e.code;
        const out: Record<string, string> = { __type: `${ex.service?.jsonErrorPrefix ?? 'com.amazonaws.sqs#'}${type}`, message: e.message };
        send(res, e.status, requestId, JSON_TYPE, JSON.stringify(out), { 'x-amzn-query-error': `${e.queryCode ?? e.code};${e.fault}` });
      } else {
        const reply = { code: e.queryCode ?? e.code, message: e.queryMessage ?? e.message, fault: e.fault };
        send(res, e.status, requestId, XML_TYPE, encodeQueryError(ex.service?.model ?? modelBySigningName(req), reply, requestId));
      }
    }
  }

  /** SNS's certificate and the Subscribe/Unsubscribe links, answered unsigned (sns/links.ts). */
  private snsLink(req: IncomingMessage, requestId: string): Promise<LinkReply | undefined> {
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    const signed = req.headers.authorization !== undefined || /(^|&)X-Amz-Signature=/i.test(query);
    const r = { method: req.method ?? 'GET', path, query, signed, endpoint: this.endpointOf(req), requestId };
    return snsLink(r, this.sns, this.broker, [...new Set(this.opts.credentials.map((c) => c.vhost))], this.opts.account);
  }

  private endpointOf(req: IncomingMessage): string {
    return `http://${String(req.headers.host ?? `${this.opts.host}:${this.opts.port}`)}`;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, body: Buffer, ex: Call): Promise<unknown> {
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    const lookup = (key: string): Credential | undefined => this.byKey.get(key);
    const signed = verifySignature({ method: req.method ?? 'POST', path, query, headers: req.headers, body }, lookup);
    const cred = this.byKey.get(signed.accessKey) as AwsCredential;
    if (cred.loopbackOnly && !isLoopback(req.socket.remoteAddress ?? '')) {
      throw new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    }
    const vhost = this.broker.vhost(cred.vhost);
    if (!vhost) throw new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    let receiver = this.receivers.get(vhost.name);
    if (!receiver) this.receivers.set(vhost.name, (receiver = new SqsReceiver(vhost, this.broker.store)));
    const ctx: AwsContext = {
      broker: this.broker,
      vhost,
      receiver,
      endpoint: this.endpointOf(req),
      region: signed.region,
      account: this.opts.account,
      topics: this.sns.topics(vhost),
      signingKey: () => this.sns.signingKey(),
      life: new ResponseLife(res),
    };
    if (ex.wire === 'json') return this.dispatchJson(req, body, ex, ctx);
    // The query protocol: the form in a POST body, or in the query string (GET, or beside a POST body).
    const params = parseForm(query);
    if (req.method === 'POST') for (const [k, v] of parseForm(body.toString('utf8'))) params.set(k, v);
    const action = params.get('Action');
    if (action === undefined || action === '') throw new AwsError('MissingAction', 'The request must contain the parameter Action.', 400);
    const service =
      AWS_SERVICES.find((s) => s.signingName === signed.service && s.has(action)) ??
      AWS_SERVICES.find((s) => s.has(action) && operationOf(s.model, action) !== undefined);
    const op = service === undefined ? undefined : operationOf(service.model, action);
    if (service === undefined || op === undefined) throw new AwsError('InvalidAction', `The action ${action} is not valid for this endpoint.`, 400);
    ex.service = service;
    ex.action = action;
    const input = decodeQuery(service.model, action, params);
    // SQS: a request may be posted to the queue's own URL instead of naming it in QueueUrl.
    if (input.QueueUrl === undefined && QUEUE_PATH.test(path) && op.input !== undefined && service.model.shapes[op.input.shape]?.members?.QueueUrl !== undefined) {
      input.QueueUrl = `${ctx.endpoint}${path}`;
    }
    return service.invoke(ctx, action, input);
  }

  private dispatchJson(req: IncomingMessage, body: Buffer, ex: Call, ctx: AwsContext): unknown {
    const target = String(req.headers['x-amz-target'] ?? '');
    const dot = target.indexOf('.');
    const [prefix, action] = dot < 0 ? [target, ''] : [target.slice(0, dot), target.slice(dot + 1)];
    const service = AWS_SERVICES.find((s) => s.jsonTargetPrefix !== undefined && s.jsonTargetPrefix === prefix);
    if (service === undefined || !service.has(action)) {
      throw new AwsError('UnknownOperationException', `Unknown operation ${target}`, 400);
    }
    ex.service = service;
    let params: unknown;
    try {
      params = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new AwsError('SerializationException', 'Start of structure or map found where not expected.', 400);
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new AwsError('SerializationException', 'Start of structure or map found where not expected.', 400);
    }
    return service.invoke(ctx, action, params as Record<string, unknown>);
  }
}

/** An SQS queue URL's path: /<account>/<queue name>. */
const QUEUE_PATH = /^\/\d{12}\/[^/]+$/;

/** AWS JSON comes with X-Amz-Target (and its content type); everything else is the query protocol. */
function isJsonRequest(req: IncomingMessage): boolean {
  return req.headers['x-amz-target'] !== undefined || String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json');
}

/** The XML namespace of a query error that came before the service was known (a signature error): the one the request was signed for. */
function modelBySigningName(req: IncomingMessage): ServiceModel {
  const m = /Credential=[^/\s]+\/\d{8}\/[^/\s]+\/([^/\s]+)\//.exec(String(req.headers.authorization ?? ''));
  return m?.[1] === 'sns' ? SNS_MODEL : SQS_MODEL;
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
  if (err instanceof QueryProtocolError) return new AwsError(err.code, err.message, err.status);
  if (err instanceof BrokerError) {
    // The broker refused (a queue's arguments, a limit): the client's fault, with the broker's text.
    return new AwsError('InvalidParameterValue', err.message, 400);
  }
  return new AwsError('InternalError', 'We encountered an internal error. Please try again.', 500);
}

function send(res: ServerResponse, status: number, requestId: string, contentType: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
