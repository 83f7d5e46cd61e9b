// RabbitMQ's definitions file: the sections Wharf reads and writes, and the small
// readers an import uses to check each entry's fields with a clear message.

export type Json = Record<string, unknown>;

/** A definitions document; every section is optional on import. */
export interface Definitions {
  rabbit_version?: string;
  rabbitmq_version?: string;
  product_name?: string;
  product_version?: string;
  users?: Json[];
  vhosts?: Json[];
  permissions?: Json[];
  topic_permissions?: Json[];
  parameters?: Json[];
  global_parameters?: Json[];
  policies?: Json[];
  queues?: Json[];
  exchanges?: Json[];
  bindings?: Json[];
}

/** A definitions document (or one entry of it) is not what RabbitMQ's format allows. */
export class DefinitionsError extends Error {
  constructor(
    message: string,
    /** The management API's `reason` as RabbitMQ gives it, when not the message (e.g. ["no_such_user", "bob"]). */
    readonly reason: unknown = message,
  ) {
    super(message);
    this.name = 'DefinitionsError';
  }
}

export const SECTIONS = [
  'users', 'vhosts', 'permissions', 'topic_permissions', 'parameters', 'global_parameters', 'policies', 'queues', 'exchanges', 'bindings',
] as const;

/** The document's sections as lists of objects; throws on anything else. */
export function readDocument(doc: unknown): Required<Pick<Definitions, (typeof SECTIONS)[number]>> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DefinitionsError('definitions must be a JSON object');
  const d = doc as Json;
  const out = {} as Record<(typeof SECTIONS)[number], Json[]>;
  for (const key of SECTIONS) {
    const v = d[key];
    if (v === undefined || v === null) out[key] = [];
    else if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x))) throw new DefinitionsError(`${key} must be a list of objects`);
    else out[key] = v as Json[];
  }
  return out;
}

export function str(d: Json, key: string, section: string, dflt?: string): string {
  const v = d[key];
  if (typeof v === 'string') return v;
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  throw new DefinitionsError(`${section}: an entry is missing '${key}' (a string)${nameOf(d)}`);
}

export function optStr(d: Json, key: string): string | undefined {
  const v = d[key];
  return typeof v === 'string' ? v : undefined;
}

export function bool(d: Json, key: string, dflt: boolean): boolean {
  const v = d[key];
  return typeof v === 'boolean' ? v : dflt;
}

/** An object field (arguments, limits, definition); absent is {}. */
export function obj(d: Json, key: string, section: string): Json {
  const v = d[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new DefinitionsError(`${section}: '${key}' must be an object${nameOf(d)}`);
  return v as Json;
}

function nameOf(d: Json): string {
  return typeof d.name === 'string' ? ` (in '${d.name}')` : '';
}
