// A node's etcd lease, kept alive by this process, with a local deadline that
// ends before etcd could expire the lease (docs/cluster.md, "Fencing").
//
// etcd sets a lease's expiry to (when it receives a keep-alive) + TTL. A keep-alive
// sent at local time t therefore keeps the lease at least until t + TTL on etcd's
// side, whatever the network delays. This node trusts its lease, and everything it
// holds under it (its leaderships), only until t + TTL - margin: past that it steps
// down even if etcd still has the lease, so no other node can be elected (which
// needs the lease gone) while this one still acts as leader. The margin covers the
// two clocks running at different rates and the time a step-down takes.

import { EventEmitter } from 'node:events';
import type { Etcd3, Lease } from 'etcd3';
import { monotonicNow } from '../util/clock.js';
import type { Logger } from '../util/logger.js';

export interface LeaseOptions {
  /** The lease's TTL in seconds (etcd raises anything below its minimum, 2 s by default with a 100 ms heartbeat). */
  readonly ttlSec: number;
  /**
   * The clock deadlines are measured on (ms): monotonic, so a step of the wall clock neither
   * extends nor ends the lease. Tests may pass their own.
   */
  readonly now?: () => number;
}

/** The margin kept between this node's deadline and etcd's: a fifth of the TTL, at least 250 ms. */
export function stepDownMarginMs(ttlMs: number): number {
  return Math.max(250, Math.floor(ttlMs / 5));
}

/** The local deadline a keep-alive sent at `sentAt` and answered with `ttlSec` gives. */
export function localDeadline(sentAt: number, ttlSec: number): number {
  const ttlMs = ttlSec * 1000;
  return sentAt + ttlMs - stepDownMarginMs(ttlMs);
}

/**
 * Events: 'expired' once, when the local deadline passes or etcd says the lease is
 * gone. After it the lease is never trusted again (a new one is granted to rejoin).
 */
export class NodeLease extends EventEmitter {
  private deadlineAt: number;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private ended = false;
  private keepAliveFailures = 0;
  private readonly now: () => number;

  private constructor(
    private readonly lease: Lease,
    readonly id: string,
    readonly ttlSec: number,
    sentAt: number,
    now: () => number,
    private readonly logger: Logger,
  ) {
    super();
    this.now = now;
    this.deadlineAt = localDeadline(sentAt, ttlSec);
    this.armDeadline();
    this.scheduleKeepAlive();
  }

  /** Grants a lease (one etcd round trip) and starts keeping it alive. */
  static async grant(client: Etcd3, options: LeaseOptions, logger: Logger): Promise<NodeLease> {
    const now = options.now ?? monotonicNow;
    const lease = client.lease(options.ttlSec, { autoKeepAlive: false });
    // Swallowed here: grant() below rejects with the same error for the caller.
    lease.on('lost', () => undefined);
    const id = await lease.grant();
    // The granted TTL may be etcd's minimum rather than the one asked for: ask once. The deadline
    // counts from this keep-alive, not the grant: a grant sent into a network partition reaches
    // etcd (and starts the lease's TTL) only once the partition heals, however long ago it was sent.
    const sentAt = now();
    const res = await lease.keepaliveOnce();
    return new NodeLease(lease, id, Math.min(Number(res.TTL), options.ttlSec), sentAt, now, logger);
  }

  /** True while this node may act under the lease (before its local deadline). */
  get valid(): boolean {
    return !this.ended && this.now() < this.deadlineAt;
  }

  get deadline(): number {
    return this.deadlineAt;
  }

  /** A put attached to the lease. */
  put(key: string): ReturnType<Lease['put']> {
    return this.lease.put(key);
  }

  /** Stops keeping the lease alive and revokes it (its keys go at once); best effort. */
  async revoke(): Promise<void> {
    this.stop();
    try {
      await this.lease.revoke();
    } catch (err) {
      this.logger.debug('lease revoke failed; it expires by its TTL', { err });
    }
  }

  /** Stops keeping the lease alive without revoking it (it expires by its TTL). */
  release(): void {
    this.stop();
    this.lease.release();
  }

  private stop(): void {
    this.ended = true;
    clearTimeout(this.keepAliveTimer);
    clearTimeout(this.deadlineTimer);
  }

  private scheduleKeepAlive(): void {
    // Three keep-alives per TTL, as etcd's own clients send them.
    this.keepAliveTimer = setTimeout(() => void this.keepAlive(), Math.max(100, (this.ttlSec * 1000) / 3));
  }

  private async keepAlive(): Promise<void> {
    if (this.ended) return;
    const sentAt = this.now();
    try {
      // A keep-alive that takes longer than a TTL is no use: give up on it then. (gRPC takes a
      // wall-clock Date; a step of the wall clock only shortens or lengthens this one call.)
      const res = await this.lease.keepaliveOnce({ deadline: new Date(Date.now() + this.ttlSec * 1000) });
      if (this.ended) return;
      const ttl = Number(res.TTL);
      if (ttl <= 0) return this.expire('etcd says the lease has expired');
      this.keepAliveFailures = 0;
      const next = localDeadline(sentAt, Math.min(ttl, this.ttlSec));
      // Never move the deadline back (an old answer arriving late).
      if (next > this.deadlineAt && this.valid) {
        this.deadlineAt = next;
        this.armDeadline();
      }
    } catch (err) {
      if (this.ended) return;
      if ((err as Error).name === 'EtcdLeaseInvalidError') return this.expire('etcd says the lease has expired');
      // The first failure of a run says etcd may be going; the rest would repeat it.
      const log = this.keepAliveFailures++ === 0 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
      log('etcd keep-alive failed; retrying until the lease deadline', {
        error: err instanceof Error ? err.message : String(err),
        deadlineInMs: this.deadlineAt - this.now(),
      });
    }
    if (!this.ended) this.scheduleKeepAlive();
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => {
      if (!this.ended && this.now() >= this.deadlineAt) this.expire('no keep-alive answered before the local deadline');
      else if (!this.ended) this.armDeadline();
    }, Math.max(0, this.deadlineAt - this.now()));
  }

  private expire(reason: string): void {
    if (this.ended) return;
    this.stop();
    this.lease.release();
    this.emit('expired', reason);
  }
}
