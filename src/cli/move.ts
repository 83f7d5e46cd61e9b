// `wharf move` (replay a queue's messages, usually dead letters, to a queue, an
// exchange or back where each died from, with a progress bar) and `wharf
// dead-letters` (why each message of a queue died, without consuming it), over
// the management API's /api/wharf routes (docs/management.md, "Dead letters").
//
// Exit codes: 0 done, 1 the server refused or the move failed or was cancelled, 2 bad command line.

import { parseArgs } from 'node:util';

export type Env = Readonly<Record<string, string | undefined>>;

/** Where the verbs write; the CLI's dispatcher passes the process's streams. */
export interface MoveIo {
  readonly env: Env;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Draw a progress bar (a terminal) rather than a line per update; default: whether stdout is one. */
  readonly isTTY?: boolean;
  /** Milliseconds between polls of the move's state (tests may shorten it). */
  readonly pollMs?: number;
}

export const DEFAULT_URL = 'http://localhost:15672';
const POLL_MS = 250;
const BAR_WIDTH = 30;

export const MOVE_HELP = `Usage: wharf move SOURCE (--to-queue Q | --to-exchange X [--routing-key K] | --to-origin) [options]

Moves ready messages of queue SOURCE, in order from the head, and shows progress
until done. Each batch is atomic on disk: after a crash every message is in
exactly one of the two queues.

  --to-queue Q          into queue Q
  --to-exchange X       through exchange X, by --routing-key K or each message's own key
  --to-origin           back to the queue each message was dead-lettered from (its newest x-death entry)
  --count N             at most N messages (default: all ready at the start)
  --positions 0,3,7     only these positions of the ready list (as 'wharf dead-letters' numbers them)
  --strip-x-death       remove x-death and x-first/last-death-* headers
  --batch-size N        messages per atomic batch (default 256)
  --no-wait             print the move's id and return at once
  --json                print the final state as JSON
  --url URL             management API (WHARF_URL, ${DEFAULT_URL})
  --user NAME           (WHARF_USER, guest)
  --password PASSWORD   (WHARF_PASSWORD, guest)
  --vhost VHOST         virtual host (/)

Example: wharf move orders.dlq --to-origin --strip-x-death
`;

export const DEAD_LETTERS_HELP = `Usage: wharf dead-letters QUEUE [--from N] [--count N] [--json] [--url ... --user ... --password ... --vhost ...]

Lists the ready messages of QUEUE without consuming them: position, why each died
(x-death reason, the queue it died in, how many times, when) and the start of its body.

  --from N      first position (default 0)
  --count N     how many (default 50, at most 500)
  --json        the API's JSON as is
`;

class UsageFailure extends Error {}
class ApiFailure extends Error {}

interface Conn {
  readonly url: string;
  readonly auth: string;
  readonly vhost: string;
}

const connFlags = {
  url: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  vhost: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `wharf move ...`: resolves with the exit code. */
export async function runMove(argv: readonly string[], io: MoveIo): Promise<number> {
  return guarded('move', io, async () => {
    const { values, positionals } = parse(argv, {
      ...connFlags,
      'to-queue': { type: 'string' },
      'to-exchange': { type: 'string' },
      'routing-key': { type: 'string' },
      'to-origin': { type: 'boolean' },
      count: { type: 'string' },
      positions: { type: 'string' },
      'strip-x-death': { type: 'boolean' },
      'batch-size': { type: 'string' },
      'no-wait': { type: 'boolean' },
    });
    if (values.help) return void io.stdout(MOVE_HELP);
    if (positionals.length !== 1) throw new UsageFailure('move: give one SOURCE queue');
    const body: Record<string, unknown> = { destination: destinationOf(values), strip_x_death: values['strip-x-death'] === true };
    if (values.count !== undefined) body.count = whole('count', values.count);
    if (values['batch-size'] !== undefined) body.batch_size = whole('batch-size', values['batch-size']);
    if (values.positions !== undefined) body.positions = String(values.positions).split(',').map((p) => whole('positions', p.trim()));
    const conn = connOf(values, io.env);
    const path = `/api/wharf/queues/${encodeURIComponent(conn.vhost)}/${encodeURIComponent(positionals[0])}/move`;
    let job = await call(conn, 'POST', path, body);
    if (values['no-wait']) return void io.stdout(values.json ? `${JSON.stringify(job)}\n` : `${String(job.id)}\n`);
    const progress = new Progress(io, io.isTTY ?? process.stdout.isTTY === true);
    while (job.state === 'running') {
      progress.show(job);
      await new Promise((r) => setTimeout(r, io.pollMs ?? POLL_MS));
      job = await call(conn, 'GET', `/api/wharf/moves/${String(job.id)}`);
    }
    progress.show(job);
    progress.end();
    if (values.json) io.stdout(`${JSON.stringify(job)}\n`);
    else io.stdout(`${String(job.state)}: moved ${num(job.moved)} of ${num(job.total)}${num(job.skipped) > 0 ? `, ${num(job.skipped)} left in the source (nowhere to go)` : ''}\n`);
    if (job.state !== 'done') throw new ApiFailure(`move ${String(job.id)} ${String(job.state)}${job.error ? `: ${String(job.error)}` : ''}`);
  });
}

/** `wharf dead-letters QUEUE ...`: resolves with the exit code. */
export async function runDeadLetters(argv: readonly string[], io: MoveIo): Promise<number> {
  return guarded('dead-letters', io, async () => {
    const { values, positionals } = parse(argv, { ...connFlags, from: { type: 'string' }, count: { type: 'string' } });
    if (values.help) return void io.stdout(DEAD_LETTERS_HELP);
    if (positionals.length !== 1) throw new UsageFailure('dead-letters: give one QUEUE');
    const from = values.from === undefined ? 0 : whole('from', values.from);
    const count = values.count === undefined ? 50 : whole('count', values.count);
    const conn = connOf(values, io.env);
    const page = await call(conn, 'GET', `/api/wharf/queues/${encodeURIComponent(conn.vhost)}/${encodeURIComponent(positionals[0])}/messages?from=${from}&count=${count}&truncate=200`);
    if (values.json) return void io.stdout(`${JSON.stringify(page)}\n`);
    io.stdout(deadLetterTable(page));
  });
}

interface Death {
  readonly reason?: string;
  readonly queue?: string;
  readonly count?: number;
  readonly time?: number;
}

interface PeekItem {
  readonly position: number;
  readonly payload: string;
  readonly payload_encoding: string;
  readonly x_death: readonly Death[];
}

/** An aligned table: one row per message, its newest death first. */
export function deadLetterTable(page: Record<string, unknown>): string {
  const items = (page.items ?? []) as PeekItem[];
  const rows = [['POS', 'REASON', 'QUEUE', 'COUNT', 'TIME', 'PAYLOAD']];
  for (const i of items) {
    const d = i.x_death[0];
    const body = i.payload_encoding === 'string' ? i.payload : `(base64) ${i.payload}`;
    rows.push([
      String(i.position),
      d?.reason ?? '-',
      d?.queue ?? '-',
      d ? String(d.count ?? '') : '-',
      d?.time !== undefined ? new Date(d.time * 1000).toISOString() : '-',
      oneLine(body, 40),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
  return `${lines.join('\n')}\n${num(page.total)} ready, showing ${items.length} from position ${num(page.from)}\n`;
}

/** A bar redrawn in place on a terminal; otherwise a line whenever the count changes. */
class Progress {
  private lastLine = '';
  private drawn = false;

  constructor(
    private readonly io: MoveIo,
    private readonly tty: boolean,
  ) {}

  show(job: Record<string, unknown>): void {
    const moved = num(job.moved) + num(job.skipped);
    const total = num(job.total);
    const share = total === 0 ? 1 : Math.min(1, moved / total);
    const text = `${num(job.moved)}/${total} moved${num(job.skipped) > 0 ? `, ${num(job.skipped)} skipped` : ''}`;
    if (this.tty) {
      const filled = Math.round(share * BAR_WIDTH);
      this.io.stdout(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)}% ${text}`);
      this.drawn = true;
    } else if (text !== this.lastLine) {
      this.io.stdout(`${text}\n`);
    }
    this.lastLine = text;
  }

  end(): void {
    if (this.drawn) this.io.stdout('\n');
  }
}

function destinationOf(v: Record<string, unknown>): unknown {
  const chosen = [v['to-queue'], v['to-exchange'], v['to-origin']].filter((x) => x !== undefined && x !== false);
  if (chosen.length !== 1) throw new UsageFailure('move: give exactly one of --to-queue, --to-exchange, --to-origin');
  if (v['routing-key'] !== undefined && v['to-exchange'] === undefined) throw new UsageFailure('move: --routing-key goes with --to-exchange');
  if (typeof v['to-queue'] === 'string') return { queue: v['to-queue'] };
  if (typeof v['to-exchange'] === 'string') {
    return v['routing-key'] === undefined ? { exchange: v['to-exchange'] } : { exchange: v['to-exchange'], routing_key: v['routing-key'] };
  }
  return 'origin';
}

type Specs = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function parse(argv: readonly string[], options: Specs): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new UsageFailure(err instanceof Error ? err.message : String(err));
  }
}

function connOf(v: Record<string, unknown>, env: Env): Conn {
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const url = (str('url') ?? env.WHARF_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  const user = str('user') ?? env.WHARF_USER ?? 'guest';
  const password = str('password') ?? env.WHARF_PASSWORD ?? 'guest';
  return { url, auth: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, vhost: str('vhost') ?? '/' };
}

function whole(name: string, raw: unknown): number {
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new UsageFailure(`--${name} must be a whole number (got '${String(raw)}')`);
  return Number(raw);
}

async function call(conn: Conn, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(conn.url + path, {
      method,
      headers: { authorization: conn.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new ApiFailure(`cannot reach ${conn.url}: ${cause ?? (err instanceof Error ? err.message : String(err))}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let reason = text;
    try {
      const e = JSON.parse(text) as { error?: string; reason?: string };
      reason = [e.error, e.reason].filter(Boolean).join(': ');
    } catch {
      // not JSON: the text as is
    }
    throw new ApiFailure(`${method} ${path}: ${res.status}${reason ? ` ${reason}` : ''}`);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

async function guarded(verb: string, io: MoveIo, run: () => Promise<void>): Promise<number> {
  try {
    await run();
    return 0;
  } catch (err) {
    if (err instanceof UsageFailure) {
      io.stderr(`wharf ${verb}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ApiFailure) {
      io.stderr(`wharf ${verb}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
