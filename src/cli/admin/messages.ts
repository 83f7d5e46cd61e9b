// Messages through the management API: publish, get (non-destructive by default)
// and consume (repeated gets that remove what they print).

import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../config.js';
import { commonHelp, keyValues, parseVerb, positionalsExactly, seg, type AdminIo } from './options.js';
import type { Verb } from './run.js';
import { formatTable } from './table.js';

const ACKMODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false'] as const;

interface GotMessage {
  payload: string;
  payload_encoding: 'string' | 'base64';
  payload_bytes: number;
  redelivered: boolean;
  exchange: string;
  routing_key: string;
  message_count: number;
  properties: Record<string, unknown> | [];
}

/** The API names the default exchange amq.default in paths. */
const exchangePath = (vhost: string, name: string): string => `/api/exchanges/${seg(vhost)}/${seg(name === '' ? 'amq.default' : name)}`;
const queuePath = (vhost: string, name: string): string => `/api/queues/${seg(vhost)}/${seg(name)}`;

const publishHelp = `Usage: wharf publish [options] [BODY]

Publishes one message through POST /api/exchanges/{vhost}/{exchange}/publish.
The body is BODY, or standard input when BODY is absent (binary input is sent
base64-encoded). Prints whether the message was routed to a queue; an unroutable
message is not an error (exit 0), as with rabbitmqadmin.

Options:
  --exchange NAME        exchange; empty or absent is the default exchange
  --routing-key KEY      routing key (for the default exchange: the queue's name)
  --content-type TYPE    content_type property
  --persistent           delivery_mode 2 (stored on disk in durable queues)
  --property KEY=VALUE   any other property (message_id, priority=5, expiration=60000, ...); repeatable
  --header KEY=VALUE     a header; VALUE is parsed as JSON when it is (42, true), a string otherwise; repeatable

Examples:
  wharf publish --routing-key orders '{"id": 1}' --content-type application/json
  wharf publish --exchange logs --routing-key app.error < event.json

${commonHelp}`;

async function publish(args: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('publish', args, {
    exchange: { type: 'string' },
    'routing-key': { type: 'string' },
    'content-type': { type: 'string' },
    persistent: { type: 'boolean' },
    property: { type: 'string', multiple: true },
    header: { type: 'string', multiple: true },
  }, io.env);
  if (p.positionals.length > 1) throw new UsageError(`publish: expected at most one BODY argument (quote it); try 'wharf help publish'`);
  const properties: Record<string, unknown> = keyValues('publish', 'property', p.flags.list('property'));
  const headers = keyValues('publish', 'header', p.flags.list('header'));
  if (Object.keys(headers).length > 0) properties.headers = headers;
  const contentType = p.flags.string('content-type');
  if (contentType !== undefined) properties.content_type = contentType;
  if (p.flags.bool('persistent')) properties.delivery_mode = 2;
  const body = p.positionals.length === 1 ? Buffer.from(p.positionals[0], 'utf8') : await io.readStdin();
  const utf8 = isUtf8(body);
  const exchange = p.flags.string('exchange') ?? '';
  const reply = await p.client().post(`${exchangePath(p.vhost, exchange)}/publish`, {
    properties,
    routing_key: p.flags.string('routing-key') ?? '',
    payload: utf8 ? body.toString('utf8') : body.toString('base64'),
    payload_encoding: utf8 ? 'string' : 'base64',
  });
  const routed = (reply.body as { routed?: boolean } | undefined)?.routed === true;
  if (p.json) io.stdout(JSON.stringify(reply.body) + '\n');
  else io.stdout(routed ? 'published, routed\n' : 'published, but NOT routed to any queue\n');
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

const getHelp = `Usage: wharf get QUEUE [options]

Fetches up to --count messages with POST /api/queues/{vhost}/{queue}/get. By
default they stay in the queue (ack_requeue_true: they come back marked
redelivered); --ackmode ack_requeue_false removes them.

Options:
  --count N            how many messages at most (1)
  --ackmode MODE       ${ACKMODES.join(' | ')} (ack_requeue_true)
  --encoding ENC       auto (text when valid UTF-8, base64 otherwise) | base64 (auto)
  --truncate BYTES     cut payloads to this many bytes

Example:
  wharf get orders --count 10

${commonHelp}`;

interface GetOptions {
  readonly count: number;
  readonly ackmode: string;
  readonly encoding: string;
  readonly truncate?: number;
}

function getMessages(p: ReturnType<typeof parseVerb>, queue: string, o: GetOptions): Promise<GotMessage[]> {
  const body: Record<string, unknown> = { count: o.count, ackmode: o.ackmode, encoding: o.encoding };
  if (o.truncate !== undefined) body.truncate = o.truncate;
  return p.client().post(`${queuePath(p.vhost, queue)}/get`, body).then((r) => r.body as GotMessage[]);
}

function checkChoice(verb: string, flag: string, value: string, choices: readonly string[]): string {
  if (!choices.includes(value)) throw new UsageError(`${verb}: --${flag} must be one of ${choices.join(', ')} (got '${value}')`);
  return value;
}

async function get(args: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('get', args, {
    count: { type: 'string' },
    ackmode: { type: 'string' },
    encoding: { type: 'string' },
    truncate: { type: 'string' },
  }, io.env);
  const [queue] = positionalsExactly('get', p, ['QUEUE']);
  const truncate = p.flags.string('truncate') === undefined ? undefined : p.flags.int('get', 'truncate', 0, 1);
  const messages = await getMessages(p, queue, {
    count: p.flags.int('get', 'count', 1, 1),
    ackmode: checkChoice('get', 'ackmode', p.flags.string('ackmode') ?? 'ack_requeue_true', ACKMODES),
    encoding: checkChoice('get', 'encoding', p.flags.string('encoding') ?? 'auto', ['auto', 'base64']),
    ...(truncate !== undefined ? { truncate } : {}),
  });
  if (p.json) {
    io.stdout(JSON.stringify(messages, null, 2) + '\n');
    return;
  }
  if (messages.length === 0) {
    io.stdout(`queue '${queue}' is empty\n`);
    return;
  }
  io.stdout(formatTable([
    { header: 'routing_key', value: 'routing_key' },
    { header: 'exchange', value: 'exchange' },
    { header: 'redelivered', value: 'redelivered' },
    { header: 'remaining', value: 'message_count' },
    { header: 'bytes', value: 'payload_bytes' },
    { header: 'encoding', value: 'payload_encoding' },
    { header: 'payload', value: 'payload' },
  ], messages as unknown as Record<string, unknown>[]));
}

const consumeHelp = `Usage: wharf consume QUEUE [options]

Takes messages off QUEUE and prints each payload on its own line (base64 when it
is not UTF-8), or one JSON object per message with --json. It polls the
management API (POST .../get with ackmode ack_requeue_false, up to 100 messages a
request) and, when the queue is empty, waits --interval and polls again: it
follows the queue until --count messages were printed, or until Ctrl-C.
Messages are removed when fetched, so one interrupted mid-request can be lost:
this is a tool for looking and draining, not for processing.

Options:
  --count N          stop after N messages; 0 follows forever (0)
  --interval MS      wait between polls of an empty queue (1000)

Example:
  wharf consume orders.dlq --count 5 --json

${commonHelp}`;

const CONSUME_BATCH = 100;

async function consume(args: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('consume', args, { count: { type: 'string' }, interval: { type: 'string' } }, io.env);
  const [queue] = positionalsExactly('consume', p, ['QUEUE']);
  const limit = p.flags.int('consume', 'count', 0);
  const intervalMs = p.flags.int('consume', 'interval', 1000);
  let stopping = false;
  const stop = (): void => { stopping = true; };
  process.once('SIGINT', stop);
  try {
    let printed = 0;
    while (!stopping && (limit === 0 || printed < limit)) {
      const want = limit === 0 ? CONSUME_BATCH : Math.min(CONSUME_BATCH, limit - printed);
      const batch = await getMessages(p, queue, { count: want, ackmode: 'ack_requeue_false', encoding: 'auto' });
      for (const m of batch) io.stdout((p.json ? JSON.stringify(m) : m.payload) + '\n');
      printed += batch.length;
      if (batch.length === 0) await sleep(intervalMs);
    }
  } finally {
    process.removeListener('SIGINT', stop);
  }
}

export const messageVerbs: Readonly<Record<string, Verb>> = {
  publish: { help: publishHelp, run: publish },
  get: { help: getHelp, run: get },
  consume: { help: consumeHelp, run: consume },
};
