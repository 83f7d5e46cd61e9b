// Leadership of one resource with epochs as fencing tokens (docs/cluster.md,
// "Leaders and epochs").
//
// A campaign is one etcd transaction: if nobody leads the resource (its leader key
// does not exist) and its epoch key is still the one read, write epoch + 1 and the
// leader key on the candidate's lease. etcd serialises transactions, so at most one
// candidate wins each epoch, and epochs only grow (the epoch key has no lease: it
// survives every leader). A leader key goes when its lease does: a crashed leader is
// replaced once etcd expires its lease.
//
// Every write a leader makes to shared state is fenced: it commits only while the
// epoch key still holds the leader's epoch and the leader key is still on its lease.
// A deposed leader, or one that has not yet noticed, cannot win a write.

import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { ClusterError } from './errors.js';
import { resourcePath, type ClusterKeys, type Resource } from './keys.js';
import type { NodeLease } from './lease.js';
import type { LeaderRecord } from './records.js';

export interface Candidate {
  readonly node: string;
  readonly instance: string;
  readonly lease: NodeLease;
}

/**
 * One leadership: a resource, the epoch it was won with, and the lease it hangs on.
 * Events: 'ended' (reason) once, when it is resigned, its lease's deadline passes,
 * or another leader appears.
 */
export class Term extends EventEmitter {
  private endedWith: string | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: ClusterKeys,
    readonly resource: Resource,
    readonly epoch: number,
    private readonly candidate: Candidate,
    /** The etcd revision of the transaction that won it: a view older than this cannot judge it. */
    readonly revision: bigint,
  ) {
    super();
  }

  get path(): string {
    return resourcePath(this.resource);
  }

  /** The lease the leader key is on (what fenced writes compare besides the epoch). */
  get leaseId(): string {
    return this.candidate.lease.id;
  }

  /** True until the term ends and while the lease is within its local deadline. */
  get active(): boolean {
    return this.endedWith === undefined && this.candidate.lease.valid;
  }

  /**
   * Writes state/<resource>/<name> = value only if this term's epoch is still the
   * resource's and its leader key is still on this node's lease; otherwise
   * ClusterError 'fenced' (and the term ends). 'no-lease' without asking etcd when
   * the lease is past its local deadline.
   */
  async write(name: string, value: string): Promise<void> {
    if (!this.candidate.lease.valid) {
      this.end('the node lease is past its deadline');
      throw new ClusterError('no-lease', `not the leader of ${this.path}: this node's etcd lease is past its deadline`);
    }
    if (!(await fencedWrite(this.client, this.keys, this.resource, this.epoch, this.candidate.lease.id, name, value))) {
      this.end('fenced: a newer epoch leads');
      throw new ClusterError('fenced', `not the leader of ${this.path}: epoch ${this.epoch} has been superseded`);
    }
  }

  /** Gives the leadership up (deletes the leader key if it is still this term's). */
  async resign(): Promise<void> {
    if (this.endedWith !== undefined) return;
    this.end('resigned');
    await this.client
      .if(this.keys.epoch(this.resource), 'Value', '==', String(this.epoch))
      .and(this.keys.leader(this.resource), 'Lease', '==', this.candidate.lease.id)
      .then(this.client.delete().key(this.keys.leader(this.resource)))
      .commit();
  }

  /** Ends the term locally (idempotent); the owner stops acting as leader on 'ended'. */
  end(reason: string): void {
    if (this.endedWith !== undefined) return;
    this.endedWith = reason;
    this.emit('ended', reason);
  }
}

/**
 * The one transaction every leader write goes through: it commits only while the
 * resource's epoch is `epoch` and its leader key is on lease `leaseId`. False: fenced.
 */
export async function fencedWrite(
  client: Etcd3,
  keys: ClusterKeys,
  resource: Resource,
  epoch: number,
  leaseId: string,
  name: string,
  value: string,
): Promise<boolean> {
  const res = await client
    .if(keys.epoch(resource), 'Value', '==', String(epoch))
    .and(keys.leader(resource), 'Lease', '==', leaseId)
    .then(client.put(keys.state(resource, name)).value(value))
    .commit();
  return res.succeeded;
}

/** One attempt to become the resource's leader: the new Term, or undefined if someone leads it. */
export async function campaign(client: Etcd3, keys: ClusterKeys, resource: Resource, candidate: Candidate): Promise<Term | undefined> {
  if (!candidate.lease.valid) return undefined;
  const epochKey = keys.epoch(resource);
  const leaderKey = keys.leader(resource);
  const read = await client.get(epochKey).exec();
  const kv = read.kvs[0];
  const current = kv === undefined ? 0 : Number(kv.value.toString());
  if (!Number.isSafeInteger(current) || current < 0) throw new Error(`etcd key ${epochKey} does not hold an epoch: '${kv?.value.toString()}'`);
  const epoch = current + 1;
  const record: LeaderRecord = { node: candidate.node, instance: candidate.instance, epoch, lease: candidate.lease.id };
  const res = await client
    .if(leaderKey, 'Create', '==', 0)
    .and(epochKey, 'Mod', '==', kv === undefined ? 0 : kv.mod_revision)
    .then(
      client.put(epochKey).value(String(epoch)),
      client.put(leaderKey).value(JSON.stringify(record)).lease(candidate.lease.id),
    )
    .commit();
  if (!res.succeeded) return undefined;
  // Won, but the lease may have passed its deadline while the transaction was in flight.
  const term = new Term(client, keys, resource, epoch, candidate, BigInt(res.header.revision));
  if (!candidate.lease.valid) {
    term.end('the node lease passed its deadline during the campaign');
    return undefined;
  }
  return term;
}
