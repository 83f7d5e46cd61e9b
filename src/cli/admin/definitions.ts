// `wharf definitions export [FILE]` and `import FILE`: RabbitMQ's definitions
// JSON, for the whole broker, or for one vhost with --vhost.

import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../config.js';
import { commonHelp, parseVerb, seg, VerbFailure, type AdminIo } from './options.js';
import type { Verb } from './run.js';

const help = `Usage: wharf definitions export [FILE] [options]
       wharf definitions import FILE [options]

export writes GET /api/definitions (users, vhosts, permissions, policies, queues,
exchanges, bindings) to FILE, or to standard output without one. import posts
FILE (- for standard input) to POST /api/definitions. With --vhost, only that
vhost's queues, exchanges, bindings and policies (/api/definitions/{vhost}).

Examples:
  wharf definitions export backup.json
  wharf definitions import backup.json

${commonHelp}`;

async function run(args: readonly string[], io: AdminIo): Promise<void> {
  const p = parseVerb('definitions', args, {}, io.env);
  const [action, file, ...extra] = p.positionals;
  const path = p.vhostGiven ? `/api/definitions/${seg(p.vhost)}` : '/api/definitions';
  if (action === 'export' && extra.length === 0) {
    const defs = await p.client().get(path);
    const text = JSON.stringify(defs, null, 2) + '\n';
    if (file === undefined || file === '-') io.stdout(text);
    else await writeFile(file, text).catch((err: unknown) => { throw new VerbFailure(`cannot write '${file}': ${errCode(err)}`); });
    return;
  }
  if (action === 'import' && file !== undefined && extra.length === 0) {
    const text = file === '-' ? (await io.readStdin()).toString('utf8') : await readFile(file, 'utf8').catch((err: unknown) => {
      throw new VerbFailure(`cannot read '${file}': ${errCode(err)}`);
    });
    let defs: unknown;
    try {
      defs = JSON.parse(text);
    } catch (err) {
      throw new VerbFailure(`'${file}' is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    await p.client().post(path, defs);
    if (!p.json) io.stdout(`imported definitions from ${file === '-' ? 'standard input' : `'${file}'`}\n`);
    return;
  }
  throw new UsageError("definitions: expected 'export [FILE]' or 'import FILE'; try 'wharf help definitions'");
}

function errCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

export const definitionVerbs: Readonly<Record<string, Verb>> = { definitions: { help, run } };
