// Which cluster and which life of a node a data dir belongs to (docs/cluster.md, "Faults: a
// wiped, stale or foreign data dir"). A data dir that has joined a cluster holds cluster.json:
// the cluster's name and id (a random id etcd holds at /wharf/<cluster>/cluster-id, made by the
// first node), the node's name, and an incarnation: a random id made when this data dir first
// joined, which members/<node> in etcd repeats. At start a node compares the two:
//
// - another cluster's id, or another node's name: the node refuses to start (its data would
//   silently mix with this cluster's);
// - the incarnation etcd knows: the same data dir, maybe stale; its replicas truncate and catch up;
// - no file, or another incarnation, for a name etcd has as a member: the data dir is not the one
//   the cluster knew (wiped, replaced, restored from an old copy). The ISRs written in etcd may
//   still name this node, but its logs lack what was committed: it rejoins as a new replica, and
//   campaigns for a partition only once it has caught up with a leader there (and is in the ISR).
//
// The same "behind" mark covers a replica that emptied its copy of one partition (a diverged log,
// a write that failed for a full disk): marked behind on disk before the reset, so a restart in
// between cannot make it a candidate.

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../store/atomic-file.js';
import { ClusterError } from './errors.js';

export const IDENTITY_FILE = 'cluster.json';

interface IdentityRecord {
  readonly version: 1;
  readonly cluster: string;
  readonly clusterId: string;
  readonly node: string;
  readonly incarnation: string;
  /** Joined as a new replica of a known member: only the partitions in caughtUp may be led. */
  readonly rejoined: boolean;
  readonly caughtUp: readonly string[];
  /** Partitions emptied here and not yet caught up again. */
  readonly behind: readonly string[];
}

export interface IdentityCheck {
  readonly dataDir: string;
  readonly cluster: string;
  readonly clusterId: string;
  readonly node: string;
  /** The incarnation members/<node> holds (undefined: never a member, or a member from a Wharf that kept none). */
  readonly memberIncarnation: string | undefined;
  /** members/<node> exists. */
  readonly wasMember: boolean;
  readonly etcd: string;
}

export class DataDirIdentity {
  private record: IdentityRecord;
  private saving: Promise<void> = Promise.resolve();
  /** The last save() has not succeeded (yet): a repeated mark writes the file again. */
  private unsaved = false;
  /** What the node logs once it has registered (a new replica of a known member), if anything. */
  notice: string | undefined;

  private constructor(
    private readonly file: string,
    record: IdentityRecord,
  ) {
    this.record = record;
  }

  get incarnation(): string {
    return this.record.incarnation;
  }

  /** This data dir joined as a new replica of a node the cluster knew. */
  get rejoined(): boolean {
    return this.record.rejoined;
  }

  /**
   * Reads the data dir's identity and decides what it is to this cluster (the file is written
   * by save() once the node has registered). ClusterError 'foreign-data-dir': another cluster's or node's.
   */
  static async check(c: IdentityCheck): Promise<DataDirIdentity> {
    const file = join(c.dataDir, IDENTITY_FILE);
    const found = parseIdentity((await readFileIfExists(file))?.toString('utf8'));
    if (found !== undefined && found.clusterId !== c.clusterId) {
      throw new ClusterError(
        'foreign-data-dir',
        `data dir ${c.dataDir} belongs to another cluster ('${found.cluster}', id ${found.clusterId}), not to cluster '${c.cluster}' (id ${c.clusterId}) at ${c.etcd}; ` +
          'start this node on its own data dir or an empty one',
      );
    }
    if (found !== undefined && found.node !== c.node) {
      throw new ClusterError(
        'foreign-data-dir',
        `data dir ${c.dataDir} is node '${found.node}''s in cluster '${c.cluster}', not '${c.node}''s; start '${found.node}' on it, or this node on its own data dir`,
      );
    }
    const fresh = (rejoined: boolean): IdentityRecord => ({
      version: 1, cluster: c.cluster, clusterId: c.clusterId, node: c.node, incarnation: randomUUID(), rejoined, caughtUp: [], behind: [],
    });
    if (found !== undefined && (found.incarnation === c.memberIncarnation || (c.wasMember && c.memberIncarnation === undefined))) {
      return new DataDirIdentity(file, found);
    }
    // Never a member, and nothing of this cluster here: a first join.
    if (!c.wasMember && found === undefined) return new DataDirIdentity(file, fresh(false));
    const identity = new DataDirIdentity(file, fresh(true));
    if (!c.wasMember) identity.notice = `data dir of ${c.node} has been in this cluster but ${c.node} is no longer a member: rejoining as a new replica`;
    else if (found === undefined) identity.notice = `data dir of ${c.node} is empty but ${c.node} was a member: rejoining as a new replica`;
    else {
      identity.notice =
        `data dir of ${c.node} is not the one ${c.node} last joined with (incarnation ${found.incarnation}, the cluster knows ${c.memberIncarnation}): ` +
        'rejoining as a new replica';
    }
    return identity;
  }

  /** Writes cluster.json (atomically); later changes are written in order. */
  save(): Promise<void> {
    const text = `${JSON.stringify(this.record, null, 2)}\n`;
    this.unsaved = true;
    const saving = this.saving.catch(() => undefined).then(() => writeFileAtomic(this.file, text));
    this.saving = saving;
    void saving.then(() => {
      if (this.saving === saving) this.unsaved = false;
    }, () => undefined);
    return saving;
  }

  /**
   * Whether this replica may stand for leader of a partition whose ISR has been written: not
   * while it is behind there (emptied, or a new replica that has not caught up yet).
   */
  mayLead(path: string): boolean {
    if (this.record.behind.includes(path)) return false;
    return !this.record.rejoined || this.record.caughtUp.includes(path);
  }

  /** The partition's copy is about to be emptied: on disk first, so no restart forgets it. */
  markBehind(path: string): Promise<void> {
    if (this.record.behind.includes(path)) return this.unsaved ? this.save() : this.saving;
    this.record = { ...this.record, behind: [...this.record.behind, path], caughtUp: this.record.caughtUp.filter((p) => p !== path) };
    return this.save();
  }

  /** This replica has everything its leader had committed when it answered. */
  markCaughtUp(path: string): Promise<void> {
    if (this.mayLead(path)) return this.unsaved ? this.save() : this.saving;
    this.record = {
      ...this.record,
      behind: this.record.behind.filter((p) => p !== path),
      caughtUp: this.record.rejoined ? [...this.record.caughtUp, path] : this.record.caughtUp,
    };
    return this.save();
  }
}

function parseIdentity(text: string | undefined): IdentityRecord | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.clusterId !== 'string' || typeof o.node !== 'string' || typeof o.incarnation !== 'string') return undefined;
  const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
  return {
    version: 1,
    cluster: typeof o.cluster === 'string' ? o.cluster : '?',
    clusterId: o.clusterId,
    node: o.node,
    incarnation: o.incarnation,
    rejoined: o.rejoined === true,
    caughtUp: strings(o.caughtUp),
    behind: strings(o.behind),
  };
}
