// Stream replication on one node (docs/cluster.md, "Streams: the data plane"): it learns every
// replicated stream's placement from etcd (meta/streams/...), creates the stream here, campaigns
// for the partitions it holds a replica of (among the in-sync replicas only, once an ISR is
// written), leads them (high watermark over the ISR) or follows their leader (fetching its log).
// The broker sees it through StreamReplication; it knows no protocol.

import { dirname } from 'node:path';
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import type { Broker } from '../../broker/broker.js';
import { StreamError } from '../../broker/stream/errors.js';
import { ReplicationError, type PartitionRole, type ReplicaNode, type StreamReplication, type StreamShape } from '../../broker/stream/replication.js';
import { takesWrites } from '../../store/disk.js';
import type { Logger } from '../../util/logger.js';
import type { ControlPlane } from '../control-plane.js';
import { resourcePath, type Resource } from '../keys.js';
import type { ReplicaSessionFactory } from './fetcher.js';
import { DISK_PROBE_BYTES, DISK_RETRY_MS, PartitionReplica, type ReplicaHost } from './partition-replica.js';
import { DEFAULT_REPLICATION_FACTOR, nodeId, parseIsr, parsePlacement, place, placementKey, type StreamPlacement } from './placement.js';
import { planMoves, type ReplicaMove, widened, withReplicas } from './reassign.js';

const TICK_MS = 250;

export interface StreamReplicasOptions {
  readonly plane: ControlPlane;
  readonly endpoints: readonly string[];
  readonly broker: Broker;
  /** The protocol followers fetch with (its address key in node records, e.g. "kafka"). */
  readonly protocol: string;
  readonly sessions: ReplicaSessionFactory;
  /** Kafka's replica.lag.time.max.ms: a follower this far behind leaves the ISR. */
  readonly lagMs: number;
  readonly logger: Logger;
}

export class StreamReplicas implements StreamReplication {
  readonly selfId: number;
  private readonly placements = new Map<string, StreamPlacement>();
  private readonly parts = new Map<string, PartitionReplica>();
  private readonly campaigning = new Set<string>();
  /** Partitions this node did not stand for because it is catching up (logged once each). */
  private readonly waitingToCatchUp = new Set<string>();
  private readonly client: Etcd3;
  private watcher: Watcher | undefined;
  private stateWatcher: Watcher | undefined;
  /** ISRs read from etcd before their stream's placement was applied. */
  private readonly pendingIsr = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly logger: Logger;
  /** Set while this node's disk takes no writes: it leads nothing until a probe writes again (docs/cluster.md, "Faults"). */
  private diskFailure: Promise<void> | undefined;

  private constructor(private readonly o: StreamReplicasOptions) {
    this.selfId = nodeId(o.plane.nodeName);
    this.client = new Etcd3({ hosts: [...o.endpoints] });
    this.logger = o.logger.child({ component: 'stream-replication' });
  }

  static async start(o: StreamReplicasOptions): Promise<StreamReplicas> {
    const r = new StreamReplicas(o);
    const prefix = `${o.plane.keys.root}meta/streams/`;
    const res = await r.client.getAll().prefix(prefix).exec();
    for (const kv of res.kvs) await r.applyKv(kv);
    r.watcher = await r.client.watch().prefix(prefix).startRevision((BigInt(res.header.revision) + 1n).toString()).create();
    r.watcher.on('put', (kv) => void r.applyKv(kv));
    r.watcher.on('delete', (kv) => void r.forget(kv.key.toString()));
    // Followers learn each partition's ISR as its leader writes it (Metadata's isr_nodes on every node).
    const states = `${o.plane.keys.root}state/stream/`;
    const isrs = await r.client.getAll().prefix(states).exec();
    for (const kv of isrs.kvs) r.applyState(kv);
    r.stateWatcher = await r.client.watch().prefix(states).startRevision((BigInt(isrs.header.revision) + 1n).toString()).create();
    r.stateWatcher.on('put', (kv) => r.applyState(kv));
    o.plane.view.on('change', () => r.reconcile());
    r.timer = setInterval(() => r.reconcile(), TICK_MS);
    r.reconcile();
    return r;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const p of this.parts.values()) p.close();
    await this.watcher?.cancel().catch(() => undefined);
    await this.stateWatcher?.cancel().catch(() => undefined);
    this.client.close();
  }

  nodes(): ReplicaNode[] {
    const out: ReplicaNode[] = [];
    for (const [name, rec] of this.o.plane.view.live) {
      const at = splitAddress(rec.addresses[this.o.protocol]);
      if (at !== undefined) out.push({ id: nodeId(name), name, ...at });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  role(vhost: string, stream: string, partition: number): PartitionRole | undefined {
    const p = this.parts.get(pathOf(vhost, stream, partition));
    if (p === undefined) return undefined;
    // Without etcd this node cannot tell who leads (its view is frozen at the outage): nobody, for clients.
    const leader = this.o.plane.connected ? this.leaderOf(p.path) : undefined;
    return {
      leader: p.leading,
      leaderId: p.leading ? this.selfId : leader !== undefined ? nodeId(leader.node) : -1,
      epoch: p.leading && p.term ? p.term.epoch : (leader?.epoch ?? 0),
      replicas: p.replicas.map(nodeId),
      isr: p.isr.map(nodeId),
      replicaNames: p.replicas,
      leaderName: p.leading ? this.o.plane.nodeName : leader?.node,
    };
  }

  checkReplicationFactor(factor: number): void {
    const live = this.o.plane.view.live.size;
    if (factor === -1) return;
    if (factor < 1 || factor > live) {
      throw new ReplicationError(
        'not-enough-replicas',
        `Unable to replicate the partition ${factor} time(s): The target replication factor of ${factor} cannot be reached because only ${live} broker(s) are registered.`,
      );
    }
  }

  async created(vhost: string, stream: StreamShape, factor: number): Promise<void> {
    const live = [...this.o.plane.view.live.keys()];
    const rf = factor === -1 ? Math.min(DEFAULT_REPLICATION_FACTOR, live.length) : factor;
    const placement = place(vhost, stream, rf, live);
    const key = placementKey(this.o.plane.keys.root, vhost, stream.name);
    const res = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(JSON.stringify(placement))).else(this.client.get(key)).commit();
    const kv = res.succeeded ? undefined : res.responses[0]?.response_range?.kvs[0];
    const chosen = kv === undefined ? placement : parsePlacement(kv.value.toString());
    if (chosen !== undefined) await this.apply(chosen);
    this.reconcile();
  }

  async deleted(vhost: string, stream: string): Promise<void> {
    const key = placementKey(this.o.plane.keys.root, vhost, stream);
    const state = `${this.o.plane.keys.root}state/${pathOf(vhost, stream, 0).replace(/\/0$/, '/')}`;
    // The placement and the partitions' ISR and epoch history go; epochs/<resource> stays, so a
    // topic created again under the name starts above every epoch the old one used.
    await this.client.delete().key(key).exec();
    await this.client.delete().prefix(state).exec();
    await this.forget(key);
  }

  /** A placement was deleted (by any node): the stream goes here too. */
  private async forget(key: string): Promise<void> {
    const [vhost, name] = key.slice(`${this.o.plane.keys.root}meta/streams/`.length).split('/').map(decodeURIComponent);
    const id = `${vhost}\0${name}`;
    const placement = this.placements.get(id);
    if (placement === undefined) return;
    this.placements.delete(id);
    for (let i = 0; i < placement.partitions; i++) {
      const path = pathOf(vhost, name, i);
      const p = this.parts.get(path);
      this.parts.delete(path);
      if (p === undefined) continue;
      const term = p.term;
      p.close();
      await term?.resign().catch(() => undefined);
    }
    await this.o.broker.vhost(vhost)?.streams.delete(name).catch((err: unknown) =>
      this.logger.warn('cannot delete a replicated stream here', { stream: name, error: (err as Error).message }),
    );
    this.logger.info('replicated stream deleted', { stream: name });
  }

  highWatermark(vhost: string, stream: string, partition: number): number {
    return this.part(vhost, stream, partition).hw;
  }

  checkInSync(vhost: string, stream: string, partition: number): void {
    this.part(vhost, stream, partition).checkInSync();
  }

  committed(vhost: string, stream: string, partition: number, offset: number, timeoutMs: number): Promise<void> {
    return this.part(vhost, stream, partition).committed(offset, timeoutMs);
  }

  epochEnd(vhost: string, stream: string, partition: number, epoch: number): { epoch: number; endOffset: number } {
    return this.part(vhost, stream, partition).epochEnd(epoch);
  }

  followerFetched(vhost: string, stream: string, partition: number, replicaId: number, fetchOffset: number): void {
    const p = this.parts.get(pathOf(vhost, stream, partition));
    const node = p?.replicas.find((r) => nodeId(r) === replicaId);
    if (p !== undefined && node !== undefined) p.followerFetched(node, fetchOffset);
  }

  private part(vhost: string, stream: string, partition: number): PartitionReplica {
    const p = this.parts.get(pathOf(vhost, stream, partition));
    if (p === undefined) throw new ReplicationError('not-leader', `${stream}-${partition} is not a replicated partition`);
    return p;
  }

  /** state/stream/<vhost>/<stream>/<partition>/isr: what the leader last wrote. */
  private applyState(kv: IKeyValue): void {
    const key = kv.key.toString();
    const prefix = `${this.o.plane.keys.root}state/`;
    if (!key.endsWith('/isr')) return;
    const path = key.slice(prefix.length, -'/isr'.length);
    const isr = parseIsr(kv.value.toString());
    if (isr === undefined) return;
    const p = this.parts.get(path);
    if (p === undefined) this.pendingIsr.set(path, isr);
    else if (!p.leading) p.isr = isr;
  }

  private async applyKv(kv: IKeyValue): Promise<void> {
    const placement = parsePlacement(kv.value.toString());
    if (placement === undefined) {
      this.logger.warn('ignoring a stream placement this version cannot read', { key: kv.key.toString() });
      return;
    }
    await this.apply(placement).catch((err: unknown) =>
      this.logger.error('cannot create a replicated stream here', { stream: placement.name, error: (err as Error).message }),
    );
  }

  /** Creates the stream here if needed (every node knows every stream) and tracks its partitions. */
  private async apply(placement: StreamPlacement): Promise<void> {
    const id = `${placement.vhost}\0${placement.name}`;
    const known = this.placements.get(id);
    if (known !== undefined) return this.reassigned(known, placement);
    const vhost = this.o.broker.vhost(placement.vhost);
    if (vhost === undefined) throw new Error(`no vhost '${placement.vhost}' on this node`);
    await vhost.streams.creation(placement.name);
    if (vhost.streams.getAny(placement.name) === undefined) {
      try {
        const amqp = placement.amqpArgs === undefined ? { kafkaName: true } : { amqpArgs: { ...placement.amqpArgs } };
        await vhost.streams.create(placement.name, { partitions: placement.partitions, ...amqp, topicId: placement.topicId, configs: { ...placement.configs } });
      } catch (err) {
        if (!(err instanceof StreamError && err.kind === 'exists')) throw err;
      }
    }
    if (this.placements.has(id)) return;
    this.placements.set(id, placement);
    const self = this.o.plane.nodeName;
    for (let i = 0; i < placement.partitions; i++) {
      const path = pathOf(placement.vhost, placement.name, i);
      const resource: Resource = { kind: 'stream', vhost: placement.vhost, name: placement.name, partition: i };
      const host: ReplicaHost = {
        partition: () => vhost.streams.getAny(placement.name)?.partition(i),
        reset: async () => {
          // Behind on disk first: a restart between the two must not make an emptied copy a candidate.
          await this.o.plane.identity?.markBehind(path);
          await vhost.streams.getAny(placement.name)?.resetPartition(i);
        },
        caughtUp: () => {
          if (this.o.plane.identity?.mayLead(path) !== false) return;
          this.waitingToCatchUp.delete(path);
          this.o.plane.identity.markCaughtUp(path).then(
            () => this.logger.info('caught up with the leader: this replica may stand for leader again', { partition: path }),
            (err: unknown) => this.logger.error('cannot record that this replica caught up', { partition: path, error: (err as Error).message }),
          );
        },
        history: () => this.history(resource),
      };
      const replica = new PartitionReplica(self, path, placement.vhost, placement.name, i, placement.replicas[i], host, this.logger);
      const isr = this.pendingIsr.get(path);
      if (isr !== undefined) replica.isr = isr;
      this.pendingIsr.delete(path);
      this.parts.set(path, replica);
    }
    this.logger.info('replicated stream known', { stream: placement.name, partitions: placement.partitions, replicas: placement.replicas });
    // A copy left from before a reassignment that happened while this node was down.
    for (let i = 0; i < placement.partitions; i++) {
      if (!placement.replicas[i].includes(self)) await this.dropCopy(placement.vhost, placement.name, i);
    }
  }

  /** A reassignment changed a known stream's replicas (docs/cluster.md, "Reassignment"). */
  private async reassigned(known: StreamPlacement, placement: StreamPlacement): Promise<void> {
    if (known.topicId !== placement.topicId || known.partitions !== placement.partitions) return;
    this.placements.set(`${placement.vhost}\0${placement.name}`, placement);
    const self = this.o.plane.nodeName;
    for (let i = 0; i < placement.partitions; i++) {
      const p = this.parts.get(pathOf(placement.vhost, placement.name, i));
      const next = placement.replicas[i];
      if (p === undefined || (p.replicas.length === next.length && p.replicas.every((n, k) => n === next[k]))) continue;
      const had = p.replicas.includes(self);
      p.setReplicas(next);
      this.logger.info('partition replicas reassigned', { partition: p.path, replicas: next });
      if (!had || next.includes(self)) continue;
      // Removed here: stop following or leading (an in-sync new replica takes over), then the copy goes.
      p.stopFollowing();
      const term = p.term;
      if (term !== undefined) await term.resign().catch(() => undefined);
      await this.dropCopy(placement.vhost, placement.name, i);
    }
    this.reconcile();
  }

  /** Deletes this node's copy of a partition it no longer holds a replica of. */
  private async dropCopy(vhost: string, stream: string, partition: number): Promise<void> {
    const local = this.o.broker.vhost(vhost)?.streams.getAny(stream)?.partition(partition);
    if (local === undefined || local.logEndOffset === 0) return;
    await local.truncateFullyAndStartAt(0).then(
      () => this.logger.info('this node no longer holds a replica of the partition; its copy is deleted', { stream, partition }),
      (err: unknown) => this.logger.warn('cannot delete the copy of a partition this node no longer holds', { stream, partition, error: (err as Error).message }),
    );
  }

  /**
   * `wharf cluster rebalance`: places every replicated stream over the live nodes (placement.ts)
   * and moves the partitions whose replicas change, as Kafka's reassignment: the placement first
   * lists old and new replicas (compare-and-swap on its revision), then, once every new replica
   * is in the ISR etcd holds (or `timeoutMs` passed), only the new ones. A partition not in sync
   * by then keeps both; running the rebalance again finishes it.
   */
  async rebalance(timeoutMs: number): Promise<(ReplicaMove & { done: boolean })[]> {
    const live = [...this.o.plane.view.live.keys()];
    const prefix = `${this.o.plane.keys.root}meta/streams/`;
    const res = await this.client.getAll().prefix(prefix).exec();
    const moves: ReplicaMove[] = [];
    for (const kv of res.kvs) {
      const current = parsePlacement(kv.value.toString());
      if (current === undefined) continue;
      const planned = planMoves(current, live);
      if (planned.length === 0) continue;
      const wide = withReplicas(current, new Map(planned.map((m) => [m.partition, widened(m.from, m.to)])));
      await this.swapPlacement(kv.key.toString(), kv.mod_revision, wide);
      moves.push(...planned);
      this.logger.info('reassigning partitions: new replicas first', { stream: current.name, moves: planned.map((m) => ({ partition: m.partition, from: m.from, to: m.to })) });
    }
    const done = new Set<ReplicaMove>();
    const deadline = Date.now() + timeoutMs;
    while (done.size < moves.length && Date.now() < deadline) {
      for (const m of moves) {
        if (done.has(m)) continue;
        const resource: Resource = { kind: 'stream', vhost: m.vhost, name: m.stream, partition: m.partition };
        const isr = parseIsr((await this.client.get(this.o.plane.keys.state(resource, 'isr')).exec()).kvs[0]?.value.toString() ?? '[]') ?? [];
        if (m.to.every((n) => isr.includes(n))) done.add(m);
      }
      if (done.size < moves.length) await new Promise((r) => setTimeout(r, TICK_MS));
    }
    // The second step, stream by stream: only the new replicas of the partitions in sync.
    for (const key of new Set([...done].map((m) => placementKey(this.o.plane.keys.root, m.vhost, m.stream)))) {
      for (;;) {
        const kv = (await this.client.get(key).exec()).kvs[0];
        const current = kv === undefined ? undefined : parsePlacement(kv.value.toString());
        if (kv === undefined || current === undefined) break;
        const final = new Map([...done].filter((m) => m.vhost === current.vhost && m.stream === current.name).map((m) => [m.partition, m.to]));
        if (await this.swapPlacement(key, kv.mod_revision, withReplicas(current, final), false)) break;
      }
    }
    return moves.map((m) => ({ ...m, done: done.has(m) }));
  }

  /** Writes a placement if its key is still at `revision`; throws (or returns false) if not. */
  private async swapPlacement(key: string, revision: string, placement: StreamPlacement, throwOnConflict = true): Promise<boolean> {
    const res = await this.client.if(key, 'Mod', '==', revision).then(this.client.put(key).value(JSON.stringify(placement))).commit();
    if (!res.succeeded && throwOnConflict) throw new Error(`the placement of ${placement.name} changed meanwhile; run the rebalance again`);
    return res.succeeded;
  }

  /** Leads, follows or campaigns for every partition this node holds a replica of. */
  private reconcile(): void {
    if (this.closed) return;
    const view = this.o.plane.view;
    const live = new Set(view.live.keys());
    const self = this.o.plane.nodeName;
    for (const p of this.parts.values()) {
      if (!p.replicas.includes(self)) continue;
      this.watchWrites(p);
      if (p.leading) {
        p.maintainIsr(live, this.o.lagMs);
        p.advance();
        continue;
      }
      const leader = this.leaderOf(p.path);
      if (leader === undefined) {
        p.stopFollowing();
        this.campaign(p);
        continue;
      }
      if (leader.node === self) continue; // a term of this node that is ending
      const at = splitAddress(view.live.get(leader.node)?.addresses[this.o.protocol]);
      if (at === undefined) continue;
      p.follow({ node: leader.node, epoch: leader.epoch, ...at }, () => this.o.sessions(p.vhost), this.selfId);
    }
  }

  /** Hears of a failed write to the local copy (a new Partition object after a reset is hooked at the next tick). */
  private watchWrites(p: PartitionReplica): void {
    const local = p.local();
    if (local === undefined || local.onWriteFailure !== undefined) return;
    local.onWriteFailure = (err) => this.writeFailed(p, dirname(local.dir), err);
  }

  /**
   * A write to this node's disk failed (a full disk, an I/O error), as Kafka takes a log directory
   * offline: this node gives up leading every partition (an in-sync replica elsewhere takes over,
   * and clients follow it) and stands for none until its disk takes writes again. Followers go on
   * as partition-replica.ts says (stop fetching, empty the copy, fetch again).
   */
  private writeFailed(p: PartitionReplica, dir: string, err: Error): void {
    if (this.diskFailure !== undefined || this.closed) return;
    const leading = [...this.parts.values()].filter((q) => q.leading);
    this.logger.error("a write to this node's disk failed: it gives up leading its partitions (in-sync replicas on other nodes take over) and leads none until the disk takes writes again", {
      partition: p.path,
      leading: leading.length,
      error: err.message,
    });
    this.diskFailure = (async () => {
      for (const q of leading) await q.term?.resign().catch(() => undefined);
      for (;;) {
        await new Promise((r) => setTimeout(r, DISK_RETRY_MS));
        if (this.closed) return;
        if (await takesWrites(dir, DISK_PROBE_BYTES).catch(() => false)) break;
      }
      this.logger.warn("this node's disk takes writes again: it may lead partitions again");
    })().finally(() => {
      this.diskFailure = undefined;
      this.reconcile();
    });
  }

  /** The live leader of a resource (its node up with the instance that won). */
  private leaderOf(path: string): { node: string; epoch: number } | undefined {
    const l = this.o.plane.view.leaders.get(path);
    if (l === undefined) return undefined;
    const node = this.o.plane.view.live.get(l.node);
    return node !== undefined && node.instance === l.instance ? l : undefined;
  }

  /** The partition's leader epochs with their start offsets, as its leaders wrote them. */
  private async history(resource: Resource): Promise<(readonly [number, number])[]> {
    const res = await this.client.get(this.o.plane.keys.state(resource, 'epochs')).exec();
    return parseHistory(res.kvs[0]?.value.toString());
  }

  /** Campaigns if this replica may lead: it is in the ISR etcd holds (any replica before the first ISR). */
  private campaign(p: PartitionReplica): void {
    if (this.campaigning.has(p.path) || this.diskFailure !== undefined) return;
    this.campaigning.add(p.path);
    const resource = resourceOf(p);
    void (async () => {
      const isrKv = await this.client.get(this.o.plane.keys.state(resource, 'isr')).exec();
      const text = isrKv.kvs[0]?.value.toString();
      const isr = text === undefined ? undefined : parseIsr(text);
      if (isr !== undefined && !isr.includes(this.o.plane.nodeName)) return; // Kafka's clean leader election
      // A written ISR may still name this node while its copy lacks what was committed (a wiped data
      // dir, an emptied partition): it stands only once it has caught up (docs/cluster.md, "Faults").
      if (isr !== undefined && this.o.plane.identity?.mayLead(p.path) === false) {
        if (!this.waitingToCatchUp.has(p.path)) {
          this.waitingToCatchUp.add(p.path);
          this.logger.warn('not standing for leader: this replica has not caught up since its copy was new or emptied', { partition: p.path, isr });
        }
        return;
      }
      const term = await this.o.plane.campaign(resource);
      if (term === undefined) return;
      if (this.parts.get(p.path) !== p) return void term.resign(); // deleted while campaigning
      // Before it takes a write: where this epoch begins, fenced, for followers to truncate against.
      const log = this.o.broker.vhost(resource.vhost)?.streams.getAny(p.stream)?.partition(p.index);
      if (log === undefined) return void term.resign();
      const history = [...(await this.history(resource)), [term.epoch, log.logEndOffset] as const];
      await term.write('epochs', JSON.stringify(history));
      if (this.parts.get(p.path) !== p) return void term.resign();
      // The written ISR; the first tick drops the replicas whose nodes are down, in etcd first.
      p.becomeLeader(term, isr, history);
      this.logger.info('leading a stream partition', { partition: p.path, epoch: term.epoch, isr: p.isr, highWatermark: p.hw });
      this.reconcile();
    })()
      .catch((err: unknown) => this.logger.warn('partition campaign failed', { partition: p.path, error: (err as Error).message }))
      .finally(() => this.campaigning.delete(p.path));
  }
}

function parseHistory(text: string | undefined): (readonly [number, number])[] {
  if (text === undefined) return [];
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v)) return [];
    return v.filter((e): e is [number, number] => Array.isArray(e) && e.length === 2 && e.every((n) => Number.isSafeInteger(n)));
  } catch {
    return [];
  }
}

function resourceOf(p: PartitionReplica): Extract<Resource, { kind: 'stream' }> {
  const [, vhost] = p.path.split('/');
  return { kind: 'stream', vhost: decodeURIComponent(vhost), name: p.stream, partition: p.index };
}

function pathOf(vhost: string, stream: string, partition: number): string {
  return resourcePath({ kind: 'stream', vhost, name: stream, partition });
}

function splitAddress(address: string | undefined): { host: string; port: number } | undefined {
  if (address === undefined) return undefined;
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return m === null ? undefined : { host: m[1], port: Number(m[2]) };
}
