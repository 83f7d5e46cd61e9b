// Many filter policies over one stream of messages (an SNS topic's subscriptions,
// an exchange's filtered bindings): which of them does a message match, without
// testing every policy. Each branch of a policy is filed under one "anchor" key
// whose conditions are all exact values; a message looks up only the branches
// filed under the values it has at those keys, plus the few branches without an
// anchor, and evaluates those. A topic with 10,000 subscriptions filtering on
// a customer id tests a handful of branches per message, not 10,000.

import { matchesBranch, type FilterInput, type FilterValue } from './match.js';
import type { Branch, CompiledPolicy } from './policy.js';

interface Entry<T> {
  readonly id: T;
  readonly branch: Branch;
}

export class FilterIndex<T> {
  /** anchor path -> value key -> branches filed there. */
  private readonly anchors = new Map<string, Map<string, Entry<T>[]>>();
  /** Branches with no key of exact values: evaluated for every message. */
  private readonly scan: Entry<T>[] = [];
  private readonly byId = new Map<T, { policy: CompiledPolicy; entries: { entry: Entry<T>; path?: string; keys: string[] }[] }>();
  /** Branches evaluated by match() so far (for tests and benchmarks). */
  evaluations = 0;

  get size(): number {
    return this.byId.size;
  }

  /** Files a policy under `id` (replacing what `id` had). */
  add(id: T, policy: CompiledPolicy): void {
    this.remove(id);
    const filed: { entry: Entry<T>; path?: string; keys: string[] }[] = [];
    for (const branch of policy.branches) {
      const entry = { id, branch };
      const anchor = anchorOf(branch);
      if (!anchor) {
        this.scan.push(entry);
        filed.push({ entry, keys: [] });
        continue;
      }
      let byValue = this.anchors.get(anchor.path);
      if (!byValue) this.anchors.set(anchor.path, (byValue = new Map()));
      for (const k of anchor.keys) {
        let list = byValue.get(k);
        if (!list) byValue.set(k, (list = []));
        list.push(entry);
      }
      filed.push({ entry, path: anchor.path, keys: anchor.keys });
    }
    this.byId.set(id, { policy, entries: filed });
  }

  remove(id: T): boolean {
    const had = this.byId.get(id);
    if (!had) return false;
    this.byId.delete(id);
    for (const { entry, path, keys } of had.entries) {
      if (path === undefined) {
        this.scan.splice(this.scan.indexOf(entry), 1);
        continue;
      }
      const byValue = this.anchors.get(path);
      if (!byValue) continue;
      for (const k of keys) {
        const list = byValue.get(k);
        if (!list) continue;
        list.splice(list.indexOf(entry), 1);
        if (list.length === 0) byValue.delete(k);
      }
      if (byValue.size === 0) this.anchors.delete(path);
    }
    return true;
  }

  policy(id: T): CompiledPolicy | undefined {
    return this.byId.get(id)?.policy;
  }

  /** The ids whose policy the message matches. */
  match(input: FilterInput, into: Set<T> = new Set()): Set<T> {
    const tried = new Set<Entry<T>>();
    const test = (e: Entry<T>): void => {
      if (into.has(e.id) || tried.has(e)) return;
      tried.add(e);
      this.evaluations++;
      if (matchesBranch(e.branch, input)) into.add(e.id);
    };
    for (const [path, byValue] of this.anchors) {
      const values = input.get(path);
      if (!values) continue;
      for (const v of values) {
        const list = byValue.get(valueKey(v));
        if (list) for (const e of list) test(e);
      }
    }
    for (const e of this.scan) test(e);
    return into;
  }
}

/** Exact values as map keys: type-tagged, numbers to SNS's five decimal places. */
function valueKey(v: FilterValue): string {
  if (typeof v === 'number') return `n:${Math.round(v * 1e5)}`;
  if (typeof v === 'string') return `s:${v}`;
  return `o:${String(v)}`;
}

/** The branch's key with only exact-value conditions and the fewest of them, if any. */
function anchorOf(branch: Branch): { path: string; keys: string[] } | undefined {
  let best: { path: string; keys: string[] } | undefined;
  for (const { path, conditions } of branch.keys) {
    const keys: string[] = [];
    for (const c of conditions) {
      if (c.kind !== 'equals') {
        keys.length = 0;
        break;
      }
      keys.push(valueKey(c.value));
    }
    if (keys.length > 0 && (!best || keys.length < best.keys.length)) best = { path, keys };
  }
  return best;
}
