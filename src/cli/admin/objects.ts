// Queues and exchanges as objects: declare, delete, purge.

import { UsageError } from '../config.js';
import { commonHelp, keyValues, parseVerb, positionalsExactly, seg, type AdminIo, type ParsedVerb } from './options.js';
import type { Verb } from './run.js';

const purgeHelp = `Usage: wharf purge QUEUE [options]

Removes every ready message from QUEUE (DELETE /api/queues/{vhost}/{queue}/contents).
Messages delivered and not yet acknowledged stay.

Example:
  wharf purge orders --vhost staging

${commonHelp}`;

async function purge(args: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('purge', args, {}, io.env);
  const [queue] = positionalsExactly('purge', p, ['QUEUE']);
  await p.client().delete(`/api/queues/${seg(p.vhost)}/${seg(queue)}/contents`);
  if (!p.json) io.stdout(`purged queue '${queue}'\n`);
}

const declareHelp = `Usage: wharf declare queue NAME [options]
       wharf declare exchange NAME --type TYPE [options]

Declares a queue (PUT /api/queues/{vhost}/{name}) or an exchange
(PUT /api/exchanges/{vhost}/{name}). Declaring what exists with the same settings
is fine; with different ones the server refuses (HTTP 400, inequivalent arg).

Options:
  --type TYPE            queue: classic | quorum | stream (x-queue-type; classic);
                         exchange: direct | fanout | topic | headers | x-... (required)
  --durable true|false   survive a restart (true)
  --auto-delete          delete when the last consumer (queue) or binding (exchange) goes
  --internal             exchange only: clients cannot publish to it
  --argument KEY=VALUE   an x-argument; VALUE is parsed as JSON when it is (x-max-length=1000); repeatable

Examples:
  wharf declare queue orders --argument x-max-length=10000 --argument x-dead-letter-exchange=dlx
  wharf declare exchange events --type topic

${commonHelp}`;

function durable(p: ParsedVerb): boolean {
  const raw = p.flags.string('durable') ?? 'true';
  if (raw !== 'true' && raw !== 'false') throw new UsageError(`declare: --durable must be true or false (got '${raw}')`);
  return raw === 'true';
}

async function declare(args: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('declare', args, {
    type: { type: 'string' },
    durable: { type: 'string' },
    'auto-delete': { type: 'boolean' },
    internal: { type: 'boolean' },
    argument: { type: 'string', multiple: true },
  }, io.env);
  const [kind, name] = positionalsExactly('declare', p, ['queue|exchange', 'NAME']);
  const args_ = keyValues('declare', 'argument', p.flags.list('argument'));
  const type = p.flags.string('type');
  const common = { durable: durable(p), auto_delete: p.flags.bool('auto-delete'), arguments: args_ };
  let reply;
  if (kind === 'queue') {
    if (p.flags.bool('internal')) throw new UsageError('declare: --internal is for exchanges');
    if (type !== undefined) args_['x-queue-type'] = type;
    reply = await p.client().put(`/api/queues/${seg(p.vhost)}/${seg(name)}`, common);
  } else if (kind === 'exchange') {
    if (type === undefined) throw new UsageError("declare: an exchange needs --type (direct, fanout, topic, headers, ...); try 'wharf help declare'");
    reply = await p.client().put(`/api/exchanges/${seg(p.vhost)}/${seg(name)}`, { ...common, type, internal: p.flags.bool('internal') });
  } else {
    throw new UsageError(`declare: expected 'queue' or 'exchange', got '${kind}'`);
  }
  if (!p.json) io.stdout(`${reply.status === 201 ? 'declared' : 'exists:'} ${kind} '${name}'\n`);
}

const deleteHelp = `Usage: wharf delete queue|exchange NAME [options]

Deletes a queue (with its messages) or an exchange (with its bindings).

Options:
  --if-unused   refuse (HTTP 400) if the queue has consumers or the exchange bindings
  --if-empty    queue only: refuse if it holds messages

Example:
  wharf delete queue orders --if-empty

${commonHelp}`;

async function remove(args: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('delete', args, { 'if-unused': { type: 'boolean' }, 'if-empty': { type: 'boolean' } }, io.env);
  const [kind, name] = positionalsExactly('delete', p, ['queue|exchange', 'NAME']);
  const query = new URLSearchParams();
  if (p.flags.bool('if-unused')) query.set('if-unused', 'true');
  if (p.flags.bool('if-empty')) {
    if (kind !== 'queue') throw new UsageError('delete: --if-empty is for queues');
    query.set('if-empty', 'true');
  }
  const qs = query.size > 0 ? `?${query.toString()}` : '';
  if (kind === 'queue') await p.client().delete(`/api/queues/${seg(p.vhost)}/${seg(name)}${qs}`);
  else if (kind === 'exchange') await p.client().delete(`/api/exchanges/${seg(p.vhost)}/${seg(name)}${qs}`);
  else throw new UsageError(`delete: expected 'queue' or 'exchange', got '${kind}'`);
  if (!p.json) io.stdout(`deleted ${kind} '${name}'\n`);
}

export const objectVerbs: Readonly<Record<string, Verb>> = {
  purge: { help: purgeHelp, run: purge },
  declare: { help: declareHelp, run: declare },
  delete: { help: deleteHelp, run: remove },
};
