// The list verbs: queues, exchanges, bindings, connections, channels, consumers.
// Without --vhost they list every vhost (with a vhost column); with it, that one.
// --json prints the API's array as is.

import { commonHelp, parseVerb, positionalsExactly, seg, type AdminIo } from './options.js';
import type { Verb } from './run.js';
import { formatTable, type Column } from './table.js';

interface ListSpec {
  /** The route for every vhost, and for one (ours takes the encoded vhost). */
  readonly all: string;
  readonly one: (vhost: string) => string;
  readonly columns: readonly Column[];
  readonly what: string;
  readonly example: string;
}

const vhostColumn: Column = { header: 'vhost', value: 'vhost' };

const specs: Readonly<Record<string, ListSpec>> = {
  queues: {
    all: '/api/queues',
    one: (v) => `/api/queues/${seg(v)}`,
    what: 'queues with their type, depth (ready and unacked) and consumers',
    example: 'wharf queues --vhost /',
    columns: [
      vhostColumn,
      { header: 'name', value: 'name' },
      { header: 'type', value: 'type' },
      { header: 'durable', value: 'durable' },
      { header: 'messages', value: 'messages' },
      { header: 'ready', value: 'messages_ready' },
      { header: 'unacked', value: 'messages_unacknowledged' },
      { header: 'consumers', value: 'consumers' },
      { header: 'policy', value: 'policy' },
    ],
  },
  exchanges: {
    all: '/api/exchanges',
    one: (v) => `/api/exchanges/${seg(v)}`,
    what: 'exchanges with their type and flags (the default exchange shows as amq.default)',
    example: 'wharf exchanges --json',
    columns: [
      vhostColumn,
      { header: 'name', value: (x) => (x.name === '' ? 'amq.default' : x.name) },
      { header: 'type', value: 'type' },
      { header: 'durable', value: 'durable' },
      { header: 'auto_delete', value: 'auto_delete' },
      { header: 'internal', value: 'internal' },
      { header: 'arguments', value: 'arguments' },
    ],
  },
  bindings: {
    all: '/api/bindings',
    one: (v) => `/api/bindings/${seg(v)}`,
    what: 'bindings: source exchange, destination queue or exchange, routing key, arguments',
    example: 'wharf bindings --vhost staging',
    columns: [
      vhostColumn,
      { header: 'source', value: (b) => (b.source === '' ? 'amq.default' : b.source) },
      { header: 'destination', value: 'destination' },
      { header: 'type', value: 'destination_type' },
      { header: 'routing_key', value: 'routing_key' },
      { header: 'arguments', value: 'arguments' },
    ],
  },
  connections: {
    all: '/api/connections',
    one: (v) => `/api/vhosts/${seg(v)}/connections`,
    what: 'client connections: name, user, protocol, channels, state',
    example: 'wharf connections',
    columns: [
      vhostColumn,
      { header: 'name', value: 'name' },
      { header: 'user', value: 'user' },
      { header: 'protocol', value: 'protocol' },
      { header: 'channels', value: 'channels' },
      { header: 'state', value: 'state' },
      { header: 'client', value: 'client_properties.product' },
    ],
  },
  channels: {
    all: '/api/channels',
    one: (v) => `/api/vhosts/${seg(v)}/channels`,
    what: 'channels: name, user, prefetch, unacked, consumers, confirm mode',
    example: 'wharf channels --json',
    columns: [
      vhostColumn,
      { header: 'name', value: 'name' },
      { header: 'user', value: 'user' },
      { header: 'prefetch', value: 'prefetch_count' },
      { header: 'unacked', value: 'messages_unacknowledged' },
      { header: 'consumers', value: 'consumer_count' },
      { header: 'confirm', value: 'confirm' },
    ],
  },
  consumers: {
    all: '/api/consumers',
    one: (v) => `/api/consumers/${seg(v)}`,
    what: 'consumers: queue, tag, ack mode, prefetch, channel',
    example: 'wharf consumers --vhost /',
    columns: [
      { header: 'vhost', value: 'queue.vhost' },
      { header: 'queue', value: 'queue.name' },
      { header: 'consumer_tag', value: 'consumer_tag' },
      { header: 'ack_required', value: 'ack_required' },
      { header: 'prefetch', value: 'prefetch_count' },
      { header: 'exclusive', value: 'exclusive' },
      { header: 'channel', value: 'channel_details.name' },
    ],
  },
};

function helpFor(verb: string, spec: ListSpec): string {
  return `Usage: wharf ${verb} [options]

Lists ${spec.what}, as an aligned table, or the API's JSON with --json.
Every vhost unless --vhost names one.

Example:
  ${spec.example}

${commonHelp}`;
}

function listVerb(verb: string, spec: ListSpec): Verb {
  return {
    help: helpFor(verb, spec),
    async run(args: readonly string[], io: AdminIo): Promise<void> {
      const p = parseVerb(verb, args, {}, io.env);
      positionalsExactly(verb, p, []);
      const items = await p.client().get<Record<string, unknown>[]>(p.vhostGiven ? spec.one(p.vhost) : spec.all);
      if (p.json) {
        io.stdout(JSON.stringify(items, null, 2) + '\n');
        return;
      }
      // One vhost: its name would repeat on every row.
      const columns = p.vhostGiven ? spec.columns.filter((c) => c.header !== 'vhost') : spec.columns;
      io.stdout(formatTable(columns, items));
    },
  };
}

export const listVerbs: Readonly<Record<string, Verb>> = Object.fromEntries(
  Object.entries(specs).map(([verb, spec]) => [verb, listVerb(verb, spec)]),
);
