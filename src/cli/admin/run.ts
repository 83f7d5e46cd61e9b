// Runs one operator verb: finds it, prints its help on --help, and turns its
// failures into a one-line message and an exit code: 2 for a bad command line,
// 1 for anything the server or the network refused.

import { UsageError } from '../config.js';
import { accessVerbs } from './access.js';
import { definitionVerbs } from './definitions.js';
import { ApiError, ReachError } from './http.js';
import { listVerbs } from './lists.js';
import { messageVerbs } from './messages.js';
import { objectVerbs } from './objects.js';
import { policyVerbs } from './policies.js';
import { VerbFailure, type AdminIo } from './options.js';
import { statusVerbs } from './status.js';
import { clusterVerbs } from './cluster.js';
import { moveVerbs } from '../move.js';

export interface Verb {
  /** `wharf help VERB`: usage, options and an example. */
  readonly help: string;
  /** Does the work; throws UsageError, ApiError, ReachError or VerbFailure on failure. */
  run(args: readonly string[], io: AdminIo): Promise<void>;
}

const verbs: Readonly<Record<string, Verb>> = {
  ...statusVerbs,
  ...listVerbs,
  ...messageVerbs,
  ...objectVerbs,
  ...definitionVerbs,
  ...policyVerbs,
  ...accessVerbs,
  ...moveVerbs,
  ...clusterVerbs,
};

/** The process's own streams, for main. */
export function processIo(env: AdminIo['env']): AdminIo {
  return {
    env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
  };
}

/** Runs `verb` and resolves with the exit code. */
export async function runAdmin(verb: string, args: readonly string[], opts: { env: AdminIo['env']; io?: AdminIo }): Promise<number> {
  const io = opts.io ?? processIo(opts.env);
  const v = verbs[verb];
  if (!v) {
    io.stderr(`wharf: unknown command '${verb}'; try 'wharf --help'\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(v.help);
    return 0;
  }
  try {
    await v.run(args, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`wharf: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ApiError || err instanceof ReachError || err instanceof VerbFailure) {
      io.stderr(`wharf ${verb}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
