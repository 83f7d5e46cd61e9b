// Aligned text tables for the list verbs: a header row, then one row per item,
// columns padded to their widest cell; numbers right-aligned, everything else left.

export interface Column {
  readonly header: string;
  /** A dotted path into the item (message_stats.publish) or a function of it. */
  readonly value: string | ((item: Record<string, unknown>) => unknown);
}

export function formatTable(columns: readonly Column[], items: readonly Record<string, unknown>[]): string {
  const rows = items.map((item) => columns.map((c) => cellText(typeof c.value === 'string' ? pick(item, c.value) : c.value(item))));
  const numeric = columns.map((_c, i) => rows.length > 0 && rows.every((r) => r[i] === '' || /^-?\d+(\.\d+)?$/.test(r[i])));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[], header: boolean): string =>
    cells
      .map((cell, i) => (numeric[i] && !header ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header), true), ...rows.map((r) => line(r, false))].join('\n') + '\n';
}

/** a.b.c of an object; undefined when any step is missing. */
export function pick(item: unknown, path: string): unknown {
  let v: unknown = item;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** One line per cell: objects as compact JSON, control characters escaped, nothing for absent values. */
export function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v.replace(/\p{Cc}/gu, (c) => JSON.stringify(c).slice(1, -1));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) && v.length === 0) return '';
  if (typeof v === 'object' && Object.keys(v).length === 0) return '';
  return JSON.stringify(v);
}
