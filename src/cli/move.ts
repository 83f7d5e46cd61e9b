// `wharf move` (replay a queue's messages, usually dead letters, to a queue, an
// exchange or back where each died from, with a progress bar) and `wharf
// dead-letters` (why each message of a queue died, without consuming it), over
// the management API's /api/wharf routes (docs/management.md, "Dead letters").
//
// They are operator verbs like the others (admin/run.ts runs them): the same flags,
// HTTP client and exit codes (0 done, 1 the server refused or the move failed or was
// cancelled, 2 bad command line).

import { UsageError } from './config.js';
import { DEFAULT_URL, parseVerb, seg, VerbFailure, type AdminIo, type FlagSpecs } from './admin/options.js';
import type { Verb } from './admin/run.js';

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

const MOVE_FLAGS: FlagSpecs = {
  'to-queue': { type: 'string' },
  'to-exchange': { type: 'string' },
  'routing-key': { type: 'string' },
  'to-origin': { type: 'boolean' },
  count: { type: 'string' },
  positions: { type: 'string' },
  'strip-x-death': { type: 'boolean' },
  'batch-size': { type: 'string' },
  'no-wait': { type: 'boolean' },
};

/** `wharf move ...`. */
async function move(argv: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('move', argv, MOVE_FLAGS, io.env);
  if (p.positionals.length !== 1) throw new UsageError('move: give one SOURCE queue');
  const f = p.flags;
  const body: Record<string, unknown> = { destination: destinationOf(f.string('to-queue'), f.string('to-exchange'), f.string('routing-key'), f.bool('to-origin')), strip_x_death: f.bool('strip-x-death') };
  if (f.string('count') !== undefined) body.count = f.int('move', 'count', 0);
  if (f.string('batch-size') !== undefined) body.batch_size = f.int('move', 'batch-size', 0);
  const positions = f.string('positions');
  if (positions !== undefined) body.positions = positions.split(',').map((x) => whole('positions', x.trim()));
  const client = p.client();
  let job = (await client.post(`/api/wharf/queues/${seg(p.vhost)}/${seg(p.positionals[0])}/move`, body)).body as Record<string, unknown>;
  if (f.bool('no-wait')) return void io.stdout(p.json ? `${JSON.stringify(job)}\n` : `${String(job.id)}\n`);
  const progress = new Progress(io, io.isTTY ?? process.stdout.isTTY === true);
  while (job.state === 'running') {
    progress.show(job);
    await new Promise((r) => setTimeout(r, io.pollMs ?? POLL_MS));
    job = await client.get<Record<string, unknown>>(`/api/wharf/moves/${String(job.id)}`);
  }
  progress.show(job);
  progress.end();
  if (p.json) io.stdout(`${JSON.stringify(job)}\n`);
  else io.stdout(`${String(job.state)}: moved ${num(job.moved)} of ${num(job.total)}${num(job.skipped) > 0 ? `, ${num(job.skipped)} left in the source (nowhere to go)` : ''}\n`);
  if (job.state !== 'done') throw new VerbFailure(`move ${String(job.id)} ${String(job.state)}${job.error ? `: ${String(job.error)}` : ''}`);
}

/** `wharf dead-letters QUEUE ...`. */
async function deadLetters(argv: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('dead-letters', argv, { from: { type: 'string' }, count: { type: 'string' } }, io.env);
  if (p.positionals.length !== 1) throw new UsageError('dead-letters: give one QUEUE');
  const from = p.flags.int('dead-letters', 'from', 0);
  const count = p.flags.int('dead-letters', 'count', 50);
  const page = await p.client().get<Record<string, unknown>>(`/api/wharf/queues/${seg(p.vhost)}/${seg(p.positionals[0])}/messages?from=${from}&count=${count}&truncate=200`);
  if (p.json) return void io.stdout(`${JSON.stringify(page)}\n`);
  io.stdout(deadLetterTable(page));
}

export const moveVerbs: Readonly<Record<string, Verb>> = {
  move: { help: MOVE_HELP, run: move },
  'dead-letters': { help: DEAD_LETTERS_HELP, run: deadLetters },
};

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
    private readonly io: AdminIo,
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

function destinationOf(toQueue: string | undefined, toExchange: string | undefined, routingKey: string | undefined, toOrigin: boolean): unknown {
  if ([toQueue !== undefined, toExchange !== undefined, toOrigin].filter(Boolean).length !== 1) {
    throw new UsageError('move: give exactly one of --to-queue, --to-exchange, --to-origin');
  }
  if (routingKey !== undefined && toExchange === undefined) throw new UsageError('move: --routing-key goes with --to-exchange');
  if (toQueue !== undefined) return { queue: toQueue };
  if (toExchange !== undefined) return routingKey === undefined ? { exchange: toExchange } : { exchange: toExchange, routing_key: routingKey };
  return 'origin';
}

function whole(name: string, raw: string): number {
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new UsageError(`move: --${name} must be a whole number (got '${raw}')`);
  return Number(raw);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
