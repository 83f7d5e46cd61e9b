// `wharf policies [list] | set NAME ... | clear NAME`, over RabbitMQ's
// /api/policies/{vhost}/{name} (pattern, definition, priority, apply-to).

import { UsageError } from '../config.js';
import { commonHelp, jsonOrString, keyValues, seg, type AdminIo, type ParsedVerb } from './options.js';
import type { Verb } from './run.js';
import { withActions } from './subcommands.js';
import { formatTable } from './table.js';

const APPLY_TO = ['all', 'queues', 'exchanges', 'classic_queues', 'quorum_queues', 'streams'];

const help = `Usage: wharf policies [list] [options]
       wharf policies set NAME --pattern REGEX (--definition JSON | --set KEY=VALUE ...) [options]
       wharf policies clear NAME [options]

Policies apply settings (max-length, message-ttl, dead-letter-exchange, ...) to
the queues or exchanges whose names match a pattern. list shows every vhost's
unless --vhost names one; set and clear act on --vhost (/).

Options for set:
  --pattern REGEX        names the policy applies to (required)
  --definition JSON      the settings as a JSON object
  --set KEY=VALUE        one setting (VALUE parsed as JSON when it is); repeatable, merged into --definition
  --priority N           the highest priority wins when several match (0)
  --apply-to WHAT        ${APPLY_TO.join(' | ')} (all)

Examples:
  wharf policies set orders-limit --pattern '^orders\\.' --set max-length=10000 --set overflow=reject-publish
  wharf policies clear orders-limit
  wharf policies --json

${commonHelp}`;

async function list(p: ParsedVerb, _args: readonly string[], io: AdminIo): Promise<void> {
  const items = await p.client().get<Record<string, unknown>[]>(p.vhostGiven ? `/api/policies/${seg(p.vhost)}` : '/api/policies');
  if (p.json) {
    io.stdout(JSON.stringify(items, null, 2) + '\n');
    return;
  }
  io.stdout(formatTable([
    { header: 'vhost', value: 'vhost' },
    { header: 'name', value: 'name' },
    { header: 'pattern', value: 'pattern' },
    { header: 'apply_to', value: 'apply-to' },
    { header: 'priority', value: 'priority' },
    { header: 'definition', value: 'definition' },
  ], items));
}

function definitionOf(p: ParsedVerb): Record<string, unknown> {
  const raw = p.flags.string('definition');
  const base = raw === undefined ? {} : jsonOrString(raw);
  if (typeof base !== 'object' || base === null || Array.isArray(base)) {
    throw new UsageError(`policies set: --definition must be a JSON object (got '${raw}')`);
  }
  const merged = { ...(base as Record<string, unknown>), ...keyValues('policies set', 'set', p.flags.list('set')) };
  if (Object.keys(merged).length === 0) throw new UsageError('policies set: give the settings with --definition or --set');
  return merged;
}

async function set(p: ParsedVerb, [name]: readonly string[], io: AdminIo): Promise<void> {
  const pattern = p.flags.string('pattern');
  if (pattern === undefined) throw new UsageError("policies set: --pattern is required; try 'wharf help policies'");
  const applyTo = p.flags.string('apply-to') ?? 'all';
  if (!APPLY_TO.includes(applyTo)) throw new UsageError(`policies set: --apply-to must be one of ${APPLY_TO.join(', ')} (got '${applyTo}')`);
  await p.client().put(`/api/policies/${seg(p.vhost)}/${seg(name)}`, {
    pattern,
    definition: definitionOf(p),
    priority: p.flags.int('policies set', 'priority', 0),
    'apply-to': applyTo,
  });
  if (!p.json) io.stdout(`set policy '${name}' in vhost '${p.vhost}'\n`);
}

async function clear(p: ParsedVerb, [name]: readonly string[], io: AdminIo): Promise<void> {
  await p.client().delete(`/api/policies/${seg(p.vhost)}/${seg(name)}`);
  if (!p.json) io.stdout(`cleared policy '${name}' in vhost '${p.vhost}'\n`);
}

export const policyVerbs: Readonly<Record<string, Verb>> = {
  policies: withActions('policies', help, {
    pattern: { type: 'string' },
    definition: { type: 'string' },
    set: { type: 'string', multiple: true },
    priority: { type: 'string' },
    'apply-to': { type: 'string' },
  }, {
    list: { args: [], run: list },
    set: { args: ['NAME'], run: set },
    clear: { args: ['NAME'], run: clear },
  }),
};
