// What every operator verb shares: where the API is and who we are (flag >
// environment > default), --json, --help, and argument parsing with node:util
// parseArgs, whose errors become UsageError (exit 2).

import { parseArgs } from 'node:util';
import { UsageError } from '../config.js';
import { AdminClient } from './http.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Where a verb writes and reads; main passes the process's, tests could pass others. */
export interface AdminIo {
  readonly env: Env;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The whole of standard input (for `publish` without a body argument, `definitions import -`). */
  readonly readStdin: () => Promise<Buffer>;
  /** `move`: draw a progress bar (a terminal) rather than a line per update; default: whether stdout is one. */
  readonly isTTY?: boolean;
  /** `move`: milliseconds between polls of the move's state (tests may shorten it). */
  readonly pollMs?: number;
}

export const DEFAULT_URL = 'http://localhost:15672';

type FlagSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

const commonFlags: FlagSpecs = {
  url: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  vhost: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const commonHelp = `Common options:
  --url URL            management API (WHARF_URL, ${DEFAULT_URL})
  --user NAME          (WHARF_USER, guest)
  --password PASSWORD  (WHARF_PASSWORD, guest)
  --vhost VHOST        virtual host (/)
  --json               machine-readable output: the API's JSON as is
  --help, -h           this help
`;

export interface ParsedVerb {
  readonly positionals: readonly string[];
  readonly flags: Flags;
  /** The vhost to act on: --vhost, or / . */
  readonly vhost: string;
  /** True when --vhost was given (lists then show that vhost only instead of all). */
  readonly vhostGiven: boolean;
  readonly json: boolean;
  readonly help: boolean;
  /** The API client for --url/--user/--password (or their environment variables). */
  client(): AdminClient;
}

/** Typed access to parsed flag values. */
export class Flags {
  constructor(private readonly values: Readonly<Record<string, unknown>>) {}

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  bool(name: string): boolean {
    return this.values[name] === true;
  }

  list(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? (v as string[]) : [];
  }

  /** A whole number flag, at least `min`; a usage error otherwise. */
  int(verb: string, name: string, dflt: number, min = 0): number {
    const raw = this.string(name);
    if (raw === undefined) return dflt;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
      throw new UsageError(`${verb}: --${name} must be a whole number, ${min} or more (got '${raw}')`);
    }
    return Number(raw);
  }
}

export function parseVerb(verb: string, args: readonly string[], flags: FlagSpecs, env: Env): ParsedVerb {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...commonFlags, ...flags }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${verb}: ${err instanceof Error ? err.message : String(err)}; try 'wharf help ${verb}'`);
  }
  const f = new Flags(parsed.values);
  const fromEnv = (name: string): string | undefined => (env[name]?.trim() ? env[name] : undefined);
  const url = f.string('url') ?? fromEnv('WHARF_URL') ?? DEFAULT_URL;
  const user = f.string('user') ?? fromEnv('WHARF_USER') ?? 'guest';
  const password = f.string('password') ?? fromEnv('WHARF_PASSWORD') ?? 'guest';
  const vhost = f.string('vhost');
  return {
    positionals: parsed.positionals,
    flags: f,
    vhost: vhost ?? '/',
    vhostGiven: vhost !== undefined,
    json: f.bool('json'),
    help: f.bool('help'),
    client: () => new AdminClient(url, user, password),
  };
}

/** Exactly `n` positional arguments, or a usage error naming them. */
export function positionalsExactly(verb: string, p: ParsedVerb, names: readonly string[]): string[] {
  if (p.positionals.length !== names.length) {
    const got = p.positionals.length === 0 ? 'none' : p.positionals.map((s) => `'${s}'`).join(' ');
    throw new UsageError(`${verb}: expected ${names.join(' ') || 'no arguments'}, got ${got}; try 'wharf help ${verb}'`);
  }
  return [...p.positionals];
}

/** A JSON value when the text parses as one (100, true, {"a":1}), the text itself otherwise. */
export function jsonOrString(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** key=value pairs (repeatable flags) -> an object; values parsed with jsonOrString. */
export function keyValues(verb: string, flag: string, pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${verb}: --${flag} takes KEY=VALUE (got '${pair}')`);
    out[pair.slice(0, eq)] = jsonOrString(pair.slice(eq + 1));
  }
  return out;
}

/** One path segment: %2F for the default vhost, as the API wants. */
export const seg = encodeURIComponent;

/** A failure a verb finds itself (e.g. a file it cannot read): message, exit 1. */
export class VerbFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerbFailure';
  }
}
