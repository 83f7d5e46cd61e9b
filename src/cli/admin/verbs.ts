// The operator verbs' names and one-line summaries, for the dispatcher and the
// top-level help. Only data: config.ts imports it on every start, and the verbs'
// code is loaded only when one runs (run.ts).

export const adminVerbSummaries: readonly (readonly [string, string])[] = [
  ['status', 'the broker at a glance: version, totals, listeners, alarms'],
  ['queues', 'list queues (aligned table, or --json)'],
  ['exchanges', 'list exchanges'],
  ['bindings', 'list bindings'],
  ['connections', 'list client connections'],
  ['channels', 'list channels'],
  ['consumers', 'list consumers'],
  ['publish', 'publish a message to an exchange (body from the argument or stdin)'],
  ['get', 'fetch messages from a queue (by default they stay: ack_requeue_true)'],
  ['consume', 'take messages off a queue and print them; follows until --count or Ctrl-C'],
  ['purge', 'remove every ready message from a queue'],
  ['declare', 'declare a queue or an exchange'],
  ['delete', 'delete a queue or an exchange'],
  ['definitions', 'export or import definitions (RabbitMQ\'s JSON format)'],
  ['policies', 'list, set or clear policies'],
  ['users', 'list, add or delete users; set their tags and permissions'],
  ['vhosts', 'list, add or delete virtual hosts'],
  ['move', "move or replay a queue's messages (dead letters) with progress"],
  ['dead-letters', "list a queue's messages and why each died, without consuming"],
  ['cluster', 'cluster status: every node, up or down, and its leaders; cluster dev: a local cluster'],
];

export const adminVerbs: ReadonlySet<string> = new Set(adminVerbSummaries.map(([name]) => name));

/** Lines for `wharf --help`, aligned like the commands above them. */
export function adminHelpSummary(): string {
  return adminVerbSummaries.map(([name, summary]) => `  ${name.padEnd(15)} ${summary}`).join('\n');
}
