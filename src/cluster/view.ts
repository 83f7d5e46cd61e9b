// A node's picture of the cluster: members, live nodes and leaders, read once and
// then kept current by one etcd watch on the cluster's prefix (from the revision
// of the read, so no change between the two is missed or applied twice).

import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from '../util/logger.js';
import type { ClusterKeys } from './keys.js';
import { parseLeaderRecord, parseNodeRecord, type LeaderRecord, type NodeRecord } from './records.js';

/** Events: 'change' after every applied etcd event. */
export class ClusterView extends EventEmitter {
  readonly members = new Map<string, NodeRecord>();
  /** Nodes whose lease is alive. */
  readonly live = new Map<string, NodeRecord>();
  /** Leaders by resource path. */
  readonly leaders = new Map<string, LeaderRecord>();
  /** The etcd revision this view reflects: every change up to it has been applied. */
  revision = 0n;
  private watcher: Watcher | undefined;

  private constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    private readonly logger: Logger,
  ) {
    super();
  }

  static async open(client: Etcd3, keys: ClusterKeys, logger: Logger): Promise<ClusterView> {
    const view = new ClusterView(client, keys, logger);
    const res = await client.getAll().prefix(keys.root).exec();
    for (const kv of res.kvs) view.apply('put', kv);
    view.revision = BigInt(res.header.revision);
    const next = (BigInt(res.header.revision) + 1n).toString();
    const watcher = await client.watch().prefix(keys.root).startRevision(next).create();
    view.watcher = watcher;
    // One etcd response at a time, whole: a transaction's changes (a new epoch and its
    // leader key) are seen together, and the revision moves past all of them at once.
    watcher.on('data', (res) => {
      for (const ev of res.events) view.apply(String(ev.type).toLowerCase() === 'delete' ? 'delete' : 'put', ev.kv);
      const r = BigInt(res.header.revision);
      if (r > view.revision) view.revision = r;
      view.emit('change');
    });
    watcher.on('disconnected', (err) => logger.warn('etcd watch disconnected; reconnecting', { error: err.message }));
    watcher.on('error', (err) => logger.warn('etcd watch error', { error: err.message }));
    return view;
  }

  async close(): Promise<void> {
    await this.watcher?.cancel();
    this.watcher = undefined;
  }

  private apply(type: 'put' | 'delete', kv: IKeyValue): void {
    const key = kv.key.toString();
    const text = kv.value.toString();
    const member = this.keys.memberOf(key);
    if (member !== undefined) return this.set(this.members, member, type, parseNodeRecord(text));
    const node = this.keys.nodeOf(key);
    if (node !== undefined) return this.set(this.live, node, type, parseNodeRecord(text));
    const path = this.keys.leaderPathOf(key);
    if (path !== undefined) return this.set(this.leaders, path, type, parseLeaderRecord(text));
  }

  private set<T>(map: Map<string, T>, name: string, type: 'put' | 'delete', value: T | undefined): void {
    if (type === 'delete') {
      map.delete(name);
    } else if (value === undefined) {
      this.logger.warn('ignoring a control-plane key this version cannot read', { name });
    } else {
      map.set(name, value);
    }
  }
}
