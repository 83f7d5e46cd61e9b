// The node lease's local deadline is measured on a monotonic clock (docs/cluster.md, "Faults:
// clock jumps"): a step of the wall clock, forwards or back, neither ends a lease whose
// keep-alives etcd answers nor extends one whose keep-alives fail. etcd's lease API is played by
// a small stand-in for the etcd3 client (the lease calls NodeLease makes), so the wall clock can
// be stepped with node:test's mocked Date while timers and performance.now() run on.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { NodeLease } from '../../../src/cluster/lease.js';
import { quietLogger } from '../../helpers/etcd.js';
import { waitUntil } from '../../helpers/async.js';

const TTL_SEC = 2;
const HOUR_MS = 3_600_000;

/** etcd's side of one lease: keep-alives answer with the TTL, or fail while `failing` is set. */
function fakeEtcd(): { client: Etcd3; keepAlives: () => number; fail: (on: boolean) => void } {
  let failing = false;
  let count = 0;
  const lease = {
    on: () => lease,
    grant: () => Promise.resolve('7587'),
    keepaliveOnce: () => {
      count++;
      return failing ? Promise.reject(new Error('etcd unreachable')) : Promise.resolve({ TTL: String(TTL_SEC) });
    },
    revoke: () => Promise.resolve(),
    release: () => undefined,
  };
  return { client: { lease: () => lease } as unknown as Etcd3, keepAlives: () => count, fail: (on) => (failing = on) };
}

describe('node lease and the wall clock', () => {
  it('a wall clock stepped an hour forwards, then back, ends no lease whose keep-alives etcd answers', async (t) => {
    const etcd = fakeEtcd();
    const lease = await NodeLease.grant(etcd.client, { ttlSec: TTL_SEC }, quietLogger);
    let expired: string | undefined;
    lease.on('expired', (reason: string) => (expired = reason));
    try {
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      t.mock.timers.setTime(Date.now() + HOUR_MS);
      assert.equal(lease.valid, true, 'still valid right after a step forwards');
      // Several keep-alive rounds and more than a whole TTL pass with the wall clock far ahead, then far behind.
      const seen = etcd.keepAlives();
      await waitUntil(() => etcd.keepAlives() >= seen + 2, 'two keep-alives', 10_000);
      t.mock.timers.setTime(Date.now() - 2 * HOUR_MS);
      await waitUntil(() => etcd.keepAlives() >= seen + 4, 'two more keep-alives', 10_000);
      assert.equal(lease.valid, true);
      assert.equal(expired, undefined, 'no step-down from a wall-clock jump alone');
    } finally {
      t.mock.timers.reset();
      lease.release();
    }
  });

  it('a wall clock stepped back does not extend a lease whose keep-alives fail: it ends at its monotonic deadline', async (t) => {
    const etcd = fakeEtcd();
    const lease = await NodeLease.grant(etcd.client, { ttlSec: TTL_SEC }, quietLogger);
    let expired: string | undefined;
    lease.on('expired', (reason: string) => (expired = reason));
    try {
      etcd.fail(true);
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      t.mock.timers.setTime(Date.now() - HOUR_MS);
      // On a wall clock the deadline would now be an hour away; on the monotonic one it is under a TTL away.
      await waitUntil(() => expired !== undefined, 'the lease ends at its local deadline', 15_000);
      assert.equal(expired, 'no keep-alive answered before the local deadline');
      assert.equal(lease.valid, false);
    } finally {
      t.mock.timers.reset();
      lease.release();
    }
  });
});
