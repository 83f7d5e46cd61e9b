// Verbs with sub-commands (policies, users, vhosts): `wharf users add NAME PASSWORD`.
// The first positional picks the action; none means `list`.

import { UsageError } from '../config.js';
import { parseVerb, type AdminIo, type FlagSpecs, type ParsedVerb } from './options.js';
import type { Verb } from './run.js';

export interface Action {
  /** Positional arguments after the action's name, for usage messages. */
  readonly args: readonly string[];
  run(p: ParsedVerb, args: readonly string[], io: AdminIo): Promise<void>;
}

export function withActions(verb: string, help: string, flags: FlagSpecs, actions: Readonly<Record<string, Action>>): Verb {
  return {
    help,
    async run(argv: readonly string[], io: AdminIo): Promise<void> {
      const p = parseVerb(verb, argv, flags, io.env);
      const [name = 'list', ...rest] = p.positionals;
      const action = actions[name];
      if (!action) throw new UsageError(`${verb}: unknown action '${name}' (expected ${Object.keys(actions).join(', ')}); try 'wharf help ${verb}'`);
      const optional = action.args.filter((a) => a.startsWith('['));
      if (rest.length > action.args.length || rest.length < action.args.length - optional.length) {
        throw new UsageError(`${verb} ${name}: expected ${action.args.join(' ') || 'no arguments'}; try 'wharf help ${verb}'`);
      }
      await action.run(p, rest, io);
    },
  };
}
