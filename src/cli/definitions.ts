// `wharf definitions export|import --data-dir DIR`: definitions in RabbitMQ's JSON
// format straight from/to a data directory while the broker is stopped (the data
// dir's LOCK refuses a running one), as `rabbitmqctl export_definitions` /
// `import_definitions` do for a node. The file is stdout/stdin when it is `-` or absent (export).

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Broker } from '../broker/broker.js';
import { exportDefinitions, importDefinitions, importFailure } from '../definitions/index.js';
import { createLogger } from '../util/logger.js';
import { UsageError } from './config.js';

export const definitionsHelp = `Usage: wharf definitions export [FILE] --data-dir DIR
       wharf definitions import FILE --data-dir DIR

Definitions (users, vhosts, permissions, limits, policies, queues, exchanges,
bindings) in RabbitMQ's JSON format, read from or written to a data directory
while the broker is stopped. FILE '-' (or none, for export) is stdout/stdin.

  --data-dir DIR     the broker's data directory (WHARF_DATA_DIR; ./data)
  --vhost NAME       only this vhost (RabbitMQ's per-vhost format)
`;

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stdin: () => Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Runs the verb; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function runDefinitions(argv: readonly string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { 'data-dir': { type: 'string' }, vhost: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`definitions: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { values, positionals } = parsed;
  const [action, file] = positionals;
  if (values.help || action === undefined) {
    io.stdout(definitionsHelp);
    return values.help ? 0 : 2;
  }
  if (action !== 'export' && action !== 'import') throw new UsageError(`definitions: unknown action '${action}' (export or import)`);
  if (action === 'import' && file === undefined) throw new UsageError('definitions import: which FILE? (- for stdin)');
  if (positionals.length > 2) throw new UsageError(`definitions: unexpected '${positionals[2]}'`);
  const dataDir = values['data-dir'] ?? io.env.WHARF_DATA_DIR ?? './data';
  if (action === 'export' && !existsSync(dataDir)) {
    io.stderr(`wharf: no data dir at ${dataDir}\n`);
    return 1;
  }
  const logger = createLogger('warn', (line) => io.stderr(line.endsWith('\n') ? line : `${line}\n`));
  const broker = await Broker.open({ dataDir, fsync: 'batch', logger });
  try {
    const vhost = values.vhost === undefined ? undefined : broker.vhost(values.vhost);
    if (values.vhost !== undefined && !vhost) {
      io.stderr(`wharf: no vhost '${values.vhost}' in ${dataDir}\n`);
      return 1;
    }
    if (action === 'export') {
      const text = `${JSON.stringify(exportDefinitions(broker, vhost), null, 2)}\n`;
      if (file === undefined || file === '-') io.stdout(text);
      else await writeFile(file, text);
      return 0;
    }
    const text = file === '-' ? await io.stdin() : await readFile(file as string, 'utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      io.stderr(`wharf: ${file === '-' ? 'stdin' : file} is not JSON: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
    try {
      const s = await importDefinitions(broker, doc, { source: `wharf definitions import ${file}`, ...(vhost ? { vhost } : {}) });
      io.stdout(`imported ${s.users} users, ${s.vhosts} vhosts, ${s.permissions} permissions, ${s.policies + s.operatorPolicies} policies, ` +
        `${s.queues} queues, ${s.exchanges} exchanges, ${s.bindings} bindings\n`);
      return 0;
    } catch (err) {
      const failure = importFailure(err);
      if (failure === undefined) throw err;
      io.stderr(`wharf: import failed: ${failure}\n`);
      return 1;
    }
  } finally {
    await broker.close();
  }
}
