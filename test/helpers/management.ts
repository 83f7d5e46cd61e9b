// The management API under test: Wharf's HTTP port, or, in reference mode, a real
// RabbitMQ's management plugin, so the same suite checks that each expectation
// is RabbitMQ's behaviour:
//
//   WHARF_REFERENCE_MANAGEMENT_PORT=35715 scripts/reference-rabbitmq.sh start 35710 /tmp/ref-mgmt
//   WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:35710 \
//   WHARF_TEST_REFERENCE_MANAGEMENT_URL=http://127.0.0.1:35715 node --test dist/test/integration/management/api.test.js
//
// Requests go through node:http with the path exactly as written (a %2F stays %2F).

import { request } from 'node:http';
import { isReference } from './broker.js';
import { useBroker, type BrokerScope } from './amqplib.js';
import { withTimeout, WAIT_MS } from './async.js';
import type { TestBrokerOptions } from './broker.js';

/** The reference RabbitMQ's management base URL (http://host:port), when testing against it. */
export const referenceManagementUrl: string | undefined = process.env.WHARF_TEST_REFERENCE_MANAGEMENT_URL || undefined;

/** Skip reason for management suites in reference mode without a management URL. */
export const skipWithoutReferenceManagement: string | false =
  isReference && referenceManagementUrl === undefined ? 'reference mode without WHARF_TEST_REFERENCE_MANAGEMENT_URL' : false;

export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON (throws if it is not). */
  json<T = unknown>(): T;
}

export interface RequestOptions {
  /** [user, password]; null for no Authorization header. Default guest/guest. */
  readonly auth?: readonly [string, string] | null;
  readonly headers?: Record<string, string>;
  /** A raw body sent as is (instead of JSON.stringify(body)). */
  readonly raw?: string | Buffer;
}

export class ManagementApi {
  constructor(readonly baseUrl: string) {}

  get port(): number {
    return Number(new URL(this.baseUrl).port);
  }

  request(method: string, path: string, body?: unknown, o: RequestOptions = {}): Promise<HttpReply> {
    const url = new URL(this.baseUrl);
    const auth = o.auth === undefined ? (['guest', 'guest'] as const) : o.auth;
    const payload = o.raw !== undefined ? o.raw : body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { ...o.headers };
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth[0]}:${auth[1]}`).toString('base64')}`;
    if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const done = new Promise<HttpReply>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
    return withTimeout(done, WAIT_MS * 3, `${method} ${path}`);
  }

  get(path: string, o?: RequestOptions): Promise<HttpReply> {
    return this.request('GET', path, undefined, o);
  }

  put(path: string, body?: unknown, o?: RequestOptions): Promise<HttpReply> {
    return this.request('PUT', path, body ?? {}, o);
  }

  post(path: string, body?: unknown, o?: RequestOptions): Promise<HttpReply> {
    return this.request('POST', path, body ?? {}, o);
  }

  delete(path: string, o?: RequestOptions): Promise<HttpReply> {
    return this.request('DELETE', path, undefined, o);
  }

  /** GET expecting 200 and a JSON body. */
  async getJson<T = Record<string, unknown>>(path: string): Promise<T> {
    const r = await this.get(path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
    return r.json<T>();
  }
}

export interface ManagementScope extends BrokerScope {
  readonly api: ManagementApi;
}

/** useBroker plus the management API of that broker (Wharf's HTTP port or the reference's). */
export function useManagement(opts: TestBrokerOptions = {}): ManagementScope {
  const scope = useBroker({ statsIntervalMs: 200, ...opts });
  Object.defineProperty(scope, 'api', {
    get: () => new ManagementApi(referenceManagementUrl ?? `http://127.0.0.1:${scope.broker.handle.httpPort}`),
  });
  return scope as ManagementScope;
}

/** %2F-style path segment for a vhost or object name, as clients send it. */
export const enc = encodeURIComponent;
