// The one HTTP client of the operator verbs: fetch with basic auth against the
// management API. A non-2xx answer becomes an ApiError carrying the status and
// RabbitMQ's {"error","reason"} body, so every verb reports failures the same way.

export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly reason: string,
  ) {
    super(`${method} ${path}: HTTP ${status}${reason ? ` ${reason}` : ''}`);
    this.name = 'ApiError';
  }
}

/** The server could not be reached at all (refused, DNS, TLS). */
export class ReachError extends Error {
  constructor(url: string, cause: unknown) {
    super(`cannot reach ${url}: ${causeText(cause)}`);
    this.name = 'ReachError';
  }
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

export interface ApiReply {
  readonly status: number;
  readonly headers: Headers;
  /** The JSON body, or undefined for an empty one (204). */
  readonly body: unknown;
}

const REQUEST_TIMEOUT_MS = 30_000;

export class AdminClient {
  private readonly base: string;
  private readonly authorization: string;

  constructor(url: string, user: string, password: string) {
    this.base = url.replace(/\/+$/, '');
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  get url(): string {
    return this.base;
  }

  /** `path` starts with /api and has its segments encoded already. */
  async request(method: string, path: string, body?: unknown): Promise<ApiReply> {
    // No Accept header: RabbitMQ answers 406 to one on routes that produce no body (purge).
    const headers: Record<string, string> = { authorization: this.authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ReachError(this.base, err);
    }
    const text = await res.text();
    const parsed = parseJson(text);
    if (res.status >= 400) throw new ApiError(method, path, res.status, errorReason(res, parsed, text));
    return { status: res.status, headers: res.headers, body: parsed };
  }

  async get<T = unknown>(path: string): Promise<T> {
    return (await this.request('GET', path)).body as T;
  }

  put(path: string, body: unknown = {}): Promise<ApiReply> {
    return this.request('PUT', path, body);
  }

  post(path: string, body: unknown = {}): Promise<ApiReply> {
    return this.request('POST', path, body);
  }

  delete(path: string): Promise<ApiReply> {
    return this.request('DELETE', path);
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** RabbitMQ's body is {"error": "...", "reason": "..."}; a bare 401 has none. */
function errorReason(res: Response, parsed: unknown, text: string): string {
  const o = parsed as { error?: unknown; reason?: unknown } | undefined;
  const parts = [o?.error, o?.reason].filter((s): s is string => typeof s === 'string' && s !== '');
  if (parts.length > 0) return parts.join(': ');
  if (res.status === 401) return 'Unauthorized (check --user and --password)';
  return (res.statusText || text.slice(0, 200)).trim();
}
