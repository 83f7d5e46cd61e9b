// Where in a filter policy SNS reports an error. SNS parses the policy with Jackson
// (re-serialised compactly) and appends the parser's location to most texts:
// `\n at [Source: (String)"{"key":[]}"; line: 1, column: 10]`. The column is one past
// the parser's position when the error was raised: just after the opening character of
// a string, array or object it had only begun (`"`, `[`, `{`), or just after the whole
// token for a number, true, false, null, a string whose text it read, or an array it
// closed.

export type PolicyPath = readonly (string | number)[];

/** The token an error is raised at: `tail` when the parser had read all of it. */
export interface PolicyLocation {
  readonly path: PolicyPath;
  readonly tail?: boolean;
}

/** SNS's location suffix for an error at `at` in `policy` (a parsed policy object). */
export function locationSuffix(policy: unknown, at: PolicyLocation): string {
  const compact = JSON.stringify(policy);
  const span = spanOf(policy, at.path, 0);
  if (!span) return '';
  const head = typeof span.value === 'string' || (typeof span.value === 'object' && span.value !== null);
  const column = at.tail || !head ? span.end + 1 : span.start + 2;
  return `\n at [Source: (String)"${compact}"; line: 1, column: ${column}]`;
}

/** The [start, end) offsets of the value at `path` in the compact JSON of `value` written at `offset`. */
function spanOf(value: unknown, path: PolicyPath, offset: number): { start: number; end: number; value: unknown } | undefined {
  if (path.length === 0) return { start: offset, end: offset + JSON.stringify(value).length, value };
  const [step, ...rest] = path;
  let at = offset + 1; // past '[' or '{'
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (i > 0) at += 1; // ','
      if (i === step) return spanOf(value[i], rest, at);
      at += JSON.stringify(value[i] ?? null).length;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  let first = true;
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (!first) at += 1; // ','
    first = false;
    at += JSON.stringify(k).length + 1; // '"k":'
    if (k === step) return spanOf(v, rest, at);
    at += JSON.stringify(v).length;
  }
  return undefined;
}
