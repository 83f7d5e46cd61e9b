// Metadata replication (docs/cluster.md, "Metadata"): the access model (users with their
// password hashes, tags, SCRAM credentials and limits; vhosts with their limits;
// permissions; topic permissions) and the policies and operator policies are the same on
// every node. etcd holds one key per object under meta/access/ and meta/policies/. A
// change made on this node (management API, CLI, definitions import) runs on the local
// model, and what it changed is written in one etcd transaction that commits only if
// every key it touches is still at the revision this node last saw (compare-and-swap):
// a concurrent change to the same object by another node makes it fail, and the change
// is run again on that node's version. Changes to different objects never conflict.
// Every node applies what its watch shows to its local model, then saves access.json
// and policies.json as before (a cache of etcd, read at start).

import { randomBytes } from 'node:crypto';
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import type { Broker } from '../../broker/broker.js';
import type { Logger } from '../../util/logger.js';
import { ClusterError } from '../errors.js';
import type { ControlPlane } from '../control-plane.js';

/** What Access and PolicyStore offer for replication: their objects as records, and a hook for changes. */
export interface RecordStore {
  records(): Map<string, string>;
  applyRecord(key: string, value: string | undefined): boolean;
  save(): Promise<void>;
  committer: ((change: () => void) => Promise<void>) | undefined;
}

interface Known {
  readonly value: string;
  readonly mod: bigint;
}

interface Write {
  readonly key: string;
  /** undefined: delete. */
  readonly value: string | undefined;
  /** The mod revision this node last saw (0: the key does not exist). */
  readonly mod: bigint;
}

/** A change that keeps losing its compare-and-swap this often has a writer racing it without end. */
const ATTEMPTS_MAX = 20;
/** How long a change waits for etcd before it is refused (and undone here). */
const WRITE_TIMEOUT_MS = 5_000;
/** etcd's default --max-txn-ops is 128: the seed's first transaction (with the marker) holds at most this many records. */
const SEED_TXN_MAX = 100;

export interface MetadataSyncOptions {
  readonly plane: Pick<ControlPlane, 'keys' | 'nodeName'>;
  readonly endpoints: readonly string[];
  /** What it keeps in step: the broker's access model and policies, and what it calls after applying others' changes. */
  readonly broker: Pick<Broker, 'access' | 'policies' | 'metadataChanged'> & Partial<Pick<Broker, 'topology'>>;
  /** `--user NAME:PASSWORD` users: applied (through etcd) once this node has the cluster's records. */
  readonly bootUsers: readonly { readonly name: string; readonly password: string }[];
  readonly logger: Logger;
}

export class MetadataSync {
  /** What this node knows etcd holds, by full key. */
  private readonly known = new Map<string, Known>();
  /** Keys of kinds this version cannot read (a newer node's): kept in etcd, never diffed away. */
  private readonly unreadable = new Set<string>();
  private readonly client: Etcd3;
  private watcher: Watcher | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly stores: readonly { readonly prefix: string; readonly store: RecordStore }[];
  private readonly metaPrefix: string;
  private readonly logger: Logger;
  private closed = false;
  /** Changes whose compare-and-swap another node's change beat (each was run again). */
  conflicts = 0;

  private constructor(private readonly o: MetadataSyncOptions) {
    this.client = new Etcd3({ hosts: [...o.endpoints] });
    this.metaPrefix = `${o.plane.keys.root}meta/`;
    this.stores = [
      { prefix: `${this.metaPrefix}access/`, store: o.broker.access },
      { prefix: `${this.metaPrefix}policies/`, store: o.broker.policies },
      ...(o.broker.topology !== undefined ? [{ prefix: `${this.metaPrefix}topology/`, store: o.broker.topology }] : []),
    ];
    this.logger = o.logger.child({ component: 'metadata' });
  }

  /**
   * Reads the cluster's records: the first node of a cluster writes its own, every later one
   * takes the cluster's in place of its own. Then watches, and routes local changes through etcd.
   */
  static async start(o: MetadataSyncOptions): Promise<MetadataSync> {
    const sync = new MetadataSync(o);
    try {
      let revision = await sync.load();
      if (sync.known.size === 0) {
        // Seeded by this node or, racing it, by another: read again either way.
        await sync.seed();
        revision = await sync.load();
      }
      await sync.adopt();
      o.broker.access.clusterSecret = await sync.secret();
      sync.watcher = await sync.client.watch().prefix(sync.metaPrefix).startRevision((revision + 1n).toString()).create();
      sync.watcher.on('data', (res) => sync.applyEvents(res.events));
      sync.watcher.on('error', (err) => sync.logger.warn('metadata watch error', { error: err.message }));
      for (const { store } of sync.stores) store.committer = (change) => sync.commit(change);
      const access = o.broker.access;
      await access.changeWith(() => void access.applyBootUsers(o.bootUsers));
      return sync;
    } catch (err) {
      await sync.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { store } of this.stores) store.committer = undefined;
    await this.watcher?.cancel().catch(() => undefined);
    this.client.close();
  }

  /**
   * The cluster's secret (meta/cookie): made once by the first node to ask, then read by every
   * node. Nodes log in to each other's AMQP listeners with it (docs/cluster.md, "Forwarding").
   */
  private async secret(): Promise<string> {
    const key = `${this.metaPrefix}cookie`;
    await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(randomBytes(32).toString('base64url'))).commit();
    const value = await this.client.get(key).string();
    if (value === null) throw new ClusterError('unreachable', 'the cluster secret (meta/cookie) cannot be read');
    return value;
  }

  /** Reads every record into `known`; returns the revision of the read. */
  private async load(): Promise<bigint> {
    this.known.clear();
    const res = await this.client.getAll().prefix(this.metaPrefix).exec();
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      if (this.storeOf(key) !== undefined) this.known.set(key, { value: kv.value.toString(), mod: BigInt(kv.mod_revision) });
    }
    return BigInt(res.header.revision);
  }

  /**
   * The cluster has no records yet: writes this node's, behind a marker key only one
   * node can create (two first nodes starting at once: one seeds, the other adopts).
   */
  private async seed(): Promise<void> {
    const writes: [string, string][] = [];
    for (const { prefix, store } of this.stores) for (const [k, v] of store.records()) writes.push([prefix + k, v]);
    const marker = `${this.metaPrefix}seeded`;
    const first = writes.slice(0, SEED_TXN_MAX);
    const res = await this.client
      .if(marker, 'Create', '==', 0)
      .then(this.client.put(marker).value(this.o.plane.nodeName), ...first.map(([k, v]) => this.client.put(k).value(v)))
      .commit();
    if (!res.succeeded) return;
    // The rest one by one, each only if still absent: a change another node made meanwhile wins over the seed.
    for (const [k, v] of writes.slice(SEED_TXN_MAX)) await this.client.if(k, 'Create', '==', 0).then(this.client.put(k).value(v)).commit();
    this.logger.info('seeded the cluster with this node\'s users, vhosts, permissions and policies', { records: writes.length });
  }

  /** Makes the local model what etcd holds: records it lacks added, others replaced, extra ones dropped. */
  private async adopt(): Promise<void> {
    let changed = 0;
    for (const { prefix, store } of this.stores) {
      const local = store.records();
      for (const key of local.keys()) {
        if (this.known.has(prefix + key)) continue;
        store.applyRecord(key, undefined);
        changed++;
      }
      for (const [full, k] of this.known) {
        if (!full.startsWith(prefix)) continue;
        const key = full.slice(prefix.length);
        if (local.get(key) === k.value) continue;
        if (readable(store, key, k.value)) changed++;
        else this.ignore(full);
      }
      await store.save();
    }
    if (changed > 0) this.logger.info('took the cluster\'s users, vhosts, permissions and policies', { changed });
    await this.o.broker.metadataChanged();
  }

  /** A watch response: changes other nodes made (this node's own are known already and skipped). */
  private applyEvents(events: readonly { type: unknown; kv: IKeyValue }[]): void {
    const touched = new Set<RecordStore>();
    for (const ev of events) {
      const key = ev.kv.key.toString();
      const s = this.storeOf(key);
      if (s === undefined) continue;
      const mod = BigInt(ev.kv.mod_revision);
      const known = this.known.get(key);
      if (String(ev.type).toLowerCase() === 'delete') {
        this.unreadable.delete(key);
        if (known === undefined) continue;
        this.known.delete(key);
        s.store.applyRecord(key.slice(s.prefix.length), undefined);
      } else {
        if (known !== undefined && known.mod >= mod) continue;
        const value = ev.kv.value.toString();
        this.known.set(key, { value, mod });
        if (!readable(s.store, key.slice(s.prefix.length), value)) {
          this.ignore(key);
          continue;
        }
      }
      touched.add(s.store);
    }
    if (touched.size === 0) return;
    const saved = Promise.all([...touched].map((st) => st.save())).then(() => this.o.broker.metadataChanged());
    saved.catch((err: unknown) => this.logger.error('applying metadata from the cluster failed', { error: (err as Error).message }));
  }

  /** Runs a local change and commits what it changed to etcd; one change at a time. */
  private commit(change: () => void): Promise<void> {
    const run = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        change();
        const writes = this.diff();
        if (writes.length === 0) return this.saveAll();
        let won: boolean;
        try {
          won = await this.write(writes);
          // Another node changed one of these objects first: take its version and run the change again on it.
          if (!won) {
            this.conflicts++;
            await this.refresh(writes.map((w) => w.key));
          }
        } catch (err) {
          this.revert(writes);
          throw new ClusterError('unreachable', `cannot write the change to etcd, so it was not made: ${(err as Error).message.replace(/\s*Resolution note:.*$/s, '')}`);
        }
        if (won) return this.saveAll();
        if (attempt >= ATTEMPTS_MAX) {
          await this.saveAll();
          throw new ClusterError('conflict', `the change lost ${ATTEMPTS_MAX} compare-and-swap attempts to other nodes' changes; not made`);
        }
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** What the local model has that etcd (as this node knows it) does not. */
  private diff(): Write[] {
    const out: Write[] = [];
    for (const { prefix, store } of this.stores) {
      const local = store.records();
      for (const [k, value] of local) {
        const known = this.known.get(prefix + k);
        if (known?.value !== value) out.push({ key: prefix + k, value, mod: known?.mod ?? 0n });
      }
      for (const [full, known] of this.known) {
        if (!full.startsWith(prefix) || this.unreadable.has(full)) continue;
        if (!local.has(full.slice(prefix.length))) out.push({ key: full, value: undefined, mod: known.mod });
      }
    }
    return out;
  }

  /** One transaction: every key still at the revision this node saw, or nothing is written. */
  private async write(writes: readonly Write[]): Promise<boolean> {
    const [first, ...rest] = writes;
    let cmp = this.client.if(first.key, 'Mod', '==', first.mod.toString());
    for (const w of rest) cmp = cmp.and(w.key, 'Mod', '==', w.mod.toString());
    const ops = writes.map((w) => (w.value === undefined ? this.client.delete().key(w.key) : this.client.put(w.key).value(w.value)));
    // Bounded: etcd down must refuse the change, not hang it. If etcd took it after all, this
    // node's watch brings it back, so no node is left without a change etcd holds.
    const res = await within(cmp.then(...ops).options({ deadline: new Date(Date.now() + WRITE_TIMEOUT_MS) }).commit(), WRITE_TIMEOUT_MS);
    if (!res.succeeded) return false;
    const revision = BigInt(res.header.revision);
    for (const w of writes) {
      if (w.value === undefined) this.known.delete(w.key);
      else this.known.set(w.key, { value: w.value, mod: revision });
    }
    return true;
  }

  /** Reads these keys' current values from etcd into `known` and the local model. */
  private async refresh(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const kv = (await within(this.client.get(key).exec(), WRITE_TIMEOUT_MS)).kvs[0];
      const s = this.storeOf(key);
      if (s === undefined) continue;
      const known = this.known.get(key);
      if (kv === undefined) {
        this.known.delete(key);
        s.store.applyRecord(key.slice(s.prefix.length), undefined);
      } else if (known === undefined || known.mod < BigInt(kv.mod_revision)) {
        this.known.set(key, { value: kv.value.toString(), mod: BigInt(kv.mod_revision) });
        if (!readable(s.store, key.slice(s.prefix.length), kv.value.toString())) this.ignore(key);
      } else {
        readable(s.store, key.slice(s.prefix.length), known.value);
      }
    }
  }

  /** A change etcd did not take is undone locally: its keys go back to what etcd holds. */
  private revert(writes: readonly Write[]): void {
    for (const w of writes) {
      const s = this.storeOf(w.key);
      const before = this.known.get(w.key)?.value;
      if (s === undefined) continue;
      if (before === undefined) s.store.applyRecord(w.key.slice(s.prefix.length), undefined);
      else readable(s.store, w.key.slice(s.prefix.length), before);
    }
  }

  private ignore(key: string): void {
    if (!this.unreadable.has(key)) this.logger.warn('ignoring a metadata key this version cannot read', { key });
    this.unreadable.add(key);
  }

  private async saveAll(): Promise<void> {
    for (const { store } of this.stores) await store.save();
  }

  private storeOf(key: string): { readonly prefix: string; readonly store: RecordStore } | undefined {
    return this.stores.find((s) => key.startsWith(s.prefix));
  }
}

/** Applies a record; false (never a throw) for a key or a value this version cannot read. */
function readable(store: RecordStore, key: string, value: string): boolean {
  try {
    return store.applyRecord(key, value);
  } catch {
    return false;
  }
}

/** The promise, or a rejection after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`etcd did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
