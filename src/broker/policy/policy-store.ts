// The broker's policies and operator policies, per vhost, kept in RabbitMQ's
// definitions format (vhost, name, pattern, apply-to, definition, priority) in
// `policies.json` (written atomically, so a crash leaves the old or the new set,
// never a torn one), and the matching rule that picks the one policy of each kind
// an object gets.

import { readFileIfExists, writeFileAtomic } from '../../store/index.js';
import { compilePattern, type PolicyDef, type PolicyKind } from './definition.js';

/** What a policy can apply to: a queue of a type, or an exchange. */
export type PolicyTarget =
  | { readonly kind: 'queue'; readonly queueType: 'classic' | 'quorum' | 'stream'; readonly name: string }
  | { readonly kind: 'exchange'; readonly name: string };

interface PoliciesFile {
  version: 1;
  policies: PolicyDef[];
  operator_policies: PolicyDef[];
}

interface Compiled {
  readonly def: PolicyDef;
  readonly regex: RegExp;
}

/**
 * Keys a queue type does not support: a policy with any of them does not apply to such a
 * queue at all (RabbitMQ's unsupported_policies capability, rabbit_policy:is_applicable).
 */
const UNSUPPORTED: Readonly<Record<'classic' | 'quorum' | 'stream', ReadonlySet<string>>> = {
  classic: new Set(),
  quorum: new Set([
    'max-priority', 'queue-mode', 'single-active-consumer', 'ha-mode', 'ha-params', 'ha-sync-mode',
    'ha-promote-on-shutdown', 'ha-promote-on-failure', 'queue-master-locator', 'max-age',
    'stream-max-segment-size-bytes', 'initial-cluster-size',
  ]),
  stream: new Set([
    'expires', 'message-ttl', 'dead-letter-exchange', 'dead-letter-routing-key', 'max-length',
    'max-in-memory-length', 'max-in-memory-bytes', 'max-priority', 'overflow', 'queue-mode',
    'single-active-consumer', 'delivery-limit', 'ha-mode', 'ha-params', 'ha-sync-mode',
    'ha-promote-on-shutdown', 'ha-promote-on-failure', 'queue-master-locator', 'dead-letter-strategy',
  ]),
};

export class PolicyStore {
  private readonly sets: Record<PolicyKind, Map<string, Map<string, Compiled>>> = { policy: new Map(), operator: new Map() };
  private saving: Promise<void> = Promise.resolve();
  /** In a cluster, every change goes through this (src/cluster/meta/), as Access.committer. */
  committer: ((change: () => void) => Promise<void>) | undefined;

  private constructor(private readonly path: string) {}

  /** Reads `policies.json` (none yet: no policies). */
  static async open(path: string): Promise<PolicyStore> {
    const store = new PolicyStore(path);
    const raw = await readFileIfExists(path);
    if (!raw) return store;
    let file: PoliciesFile;
    try {
      file = JSON.parse(raw.toString('utf8')) as PoliciesFile;
    } catch (err) {
      // Written atomically, so never torn by a crash: this is damage or a hand edit; refuse to start without the policies.
      throw new Error(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    if (file.version !== 1) throw new Error(`${path}: unknown version ${String(file.version)}`);
    for (const p of file.policies ?? []) store.add('policy', p);
    for (const p of file.operator_policies ?? []) store.add('operator', p);
    return store;
  }

  /** Policies of a kind, in one vhost or all, ordered by vhost and name (as RabbitMQ's API lists them). */
  list(kind: PolicyKind, vhost?: string): PolicyDef[] {
    const out: PolicyDef[] = [];
    for (const [v, set] of this.sets[kind]) if (vhost === undefined || v === vhost) for (const c of set.values()) out.push(c.def);
    return out.sort((a, b) => cmp(a.vhost, b.vhost) || cmp(a.name, b.name));
  }

  get(kind: PolicyKind, vhost: string, name: string): PolicyDef | undefined {
    return this.sets[kind].get(vhost)?.get(name)?.def;
  }

  /** Adds or replaces a validated policy; resolves once on disk. True if it is new. */
  async put(kind: PolicyKind, def: PolicyDef): Promise<boolean> {
    let isNew = false;
    await this.change(() => {
      isNew = this.get(kind, def.vhost, def.name) === undefined;
      this.add(kind, def);
    });
    return isNew;
  }

  /** Removes a policy; resolves once on disk. False if there was none. */
  async delete(kind: PolicyKind, vhost: string, name: string): Promise<boolean> {
    if (this.get(kind, vhost, name) === undefined) return false;
    let had = false;
    await this.change(() => {
      had = this.remove(kind, vhost, name);
    });
    return had;
  }

  /** A vhost was deleted: its policies go with it. */
  async dropVhost(vhost: string): Promise<void> {
    if (!this.sets.policy.has(vhost) && !this.sets.operator.has(vhost)) return;
    await this.change(() => {
      this.sets.policy.delete(vhost);
      this.sets.operator.delete(vhost);
    });
  }

  /** Every policy as a record: `<kind>/<vhost>/<name>` (percent-encoded) -> its definition's JSON. */
  records(): Map<string, string> {
    const out = new Map<string, string>();
    for (const kind of ['policy', 'operator'] as const) {
      for (const def of this.list(kind)) out.set([kind, def.vhost, def.name].map(encodeURIComponent).join('/'), JSON.stringify(def));
    }
    return out;
  }

  /** Applies a record another node wrote (undefined: deleted); the caller saves. False for a key this version cannot read. */
  applyRecord(key: string, value: string | undefined): boolean {
    const parts = key.split('/');
    if (parts.length !== 3 || (parts[0] !== 'policy' && parts[0] !== 'operator')) return false;
    const kind: PolicyKind = parts[0];
    let vhost: string, name: string;
    try {
      [vhost, name] = [decodeURIComponent(parts[1]), decodeURIComponent(parts[2])];
    } catch {
      return false;
    }
    if (value === undefined) this.remove(kind, vhost, name);
    else this.add(kind, JSON.parse(value) as PolicyDef);
    return true;
  }

  private remove(kind: PolicyKind, vhost: string, name: string): boolean {
    const set = this.sets[kind].get(vhost);
    if (!set?.delete(name)) return false;
    if (set.size === 0) this.sets[kind].delete(vhost);
    return true;
  }

  private change(fn: () => void): Promise<void> {
    if (this.committer !== undefined) return this.committer(fn);
    fn();
    return this.save();
  }

  /**
   * The one policy of a kind for an object: among those whose apply-to covers it, whose
   * pattern matches its name and which set nothing its queue type refuses, the highest
   * priority. RabbitMQ leaves the choice between equal priorities to its table order;
   * Wharf takes the name that sorts first, so the choice is stable across restarts.
   */
  match(kind: PolicyKind, vhost: string, target: PolicyTarget): PolicyDef | undefined {
    const set = this.sets[kind].get(vhost);
    if (!set) return undefined;
    let best: PolicyDef | undefined;
    for (const { def, regex } of set.values()) {
      if (!appliesTo(def, target) || !regex.test(target.name)) continue;
      if (best === undefined || def.priority > best.priority || (def.priority === best.priority && def.name < best.name)) best = def;
    }
    return best;
  }

  private add(kind: PolicyKind, def: PolicyDef): void {
    let set = this.sets[kind].get(def.vhost);
    if (!set) this.sets[kind].set(def.vhost, (set = new Map()));
    set.set(def.name, { def, regex: compilePattern(def.pattern) });
  }

  /** Saves are chained: each writes the whole current set, in order. */
  save(): Promise<void> {
    const run = (): Promise<void> => {
      const file: PoliciesFile = { version: 1, policies: this.list('policy'), operator_policies: this.list('operator') };
      return writeFileAtomic(this.path, JSON.stringify(file, null, 1));
    };
    this.saving = this.saving.then(run, run);
    return this.saving;
  }
}

function appliesTo(def: PolicyDef, t: PolicyTarget): boolean {
  const a = def['apply-to'];
  if (t.kind === 'exchange') return a === 'exchanges' || a === 'all';
  const typeMatches =
    a === 'all' ||
    a === 'queues' ||
    (a === 'classic_queues' && t.queueType === 'classic') ||
    (a === 'quorum_queues' && t.queueType === 'quorum') ||
    (a === 'streams' && t.queueType === 'stream');
  if (!typeMatches) return false;
  const unsupported = UNSUPPORTED[t.queueType];
  return unsupported.size === 0 || !Object.keys(def.definition).some((k) => unsupported.has(k));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
