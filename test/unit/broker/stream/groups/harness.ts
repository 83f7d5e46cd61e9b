// A group coordinator on a memory log and a hand-driven clock, and request builders, for the group
// and offset tests.

import type { JoinRequest, JoinResult, SubscriptionDecoder, SyncResult } from '../../../../../src/broker/stream/groups/api.js';
import type { GroupConfig } from '../../../../../src/broker/stream/groups/config.js';
import { GroupCoordinator } from '../../../../../src/broker/stream/groups/coordinator.js';
import { OffsetStore } from '../../../../../src/broker/stream/groups/offset-store.js';
import { type MemoryLog, openMemoryLog, silentLogger } from '../../../../../src/store/index.js';
import { ManualScheduler, settle } from '../../../../helpers/manual-scheduler.js';

export const INITIAL_DELAY_MS = 100;
export const SESSION_MS = 10_000;
export const REBALANCE_MS = 30_000;

export const TEST_CONFIG: Partial<GroupConfig> = {
  initialRebalanceDelayMs: INITIAL_DELAY_MS,
  minSessionTimeoutMs: 1_000,
  maxSessionTimeoutMs: 60_000,
};

/** Test protocol type whose metadata is a comma-separated topic list. */
export const SUBSCRIBING = 'consumer';

export const testDecoder: SubscriptionDecoder = {
  protocolType: SUBSCRIBING,
  topics(_protocolName, metadata) {
    const text = metadata.toString();
    if (text.startsWith('!')) throw new Error('bad metadata');
    return text === '' ? [] : text.split(',');
  },
};

export interface Harness {
  readonly clock: ManualScheduler;
  readonly log: MemoryLog;
  readonly coordinator: GroupCoordinator;
}

export async function harness(config: Partial<GroupConfig> = {}, log: MemoryLog = openMemoryLog({ logger: silentLogger }), clock = new ManualScheduler()): Promise<Harness> {
  const store = await OffsetStore.openOnLog(log, { logger: silentLogger });
  const coordinator = new GroupCoordinator(store, { config: { ...TEST_CONFIG, ...config }, scheduler: clock, subscriptions: testDecoder, logger: silentLogger });
  return { clock, log, coordinator };
}

export function joinReq(groupId: string, o: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId,
    memberId: '',
    protocolType: SUBSCRIBING,
    protocols: [{ name: 'range', metadata: Buffer.from('t1') }],
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    ...o,
  };
}

/** Watches a promise so a test can check whether it settled yet without awaiting it. */
export function track<T>(p: Promise<T>): { readonly done: boolean; readonly value: T | undefined; readonly promise: Promise<T> } {
  const t = { done: false, value: undefined as T | undefined, promise: p };
  p.then((v) => {
    t.done = true;
    t.value = v;
  });
  return t;
}

/** Settles pending callbacks, then returns the tracked result, failing if it is still held. */
export async function resultOf<T>(t: { readonly done: boolean; readonly value: T | undefined }): Promise<T> {
  await settle();
  if (!t.done) throw new Error('the request is still held');
  return t.value as T;
}

export async function stillHeld(t: { readonly done: boolean }): Promise<boolean> {
  await settle();
  return !t.done;
}

export type { JoinResult, SyncResult };
export { settle };

export interface StableGroup {
  readonly generationId: number;
  readonly leader: string;
  /** Member ids in join order. */
  readonly members: string[];
}

/**
 * Forms a stable group: `n` members join during the initial delay (member i subscribes to the
 * topics in `topics[i]`, default 't1'), the leader assigns `a-<memberId>` to each, all sync.
 */
export async function stableGroup(h: Harness, groupId: string, n: number, topics: string[] = []): Promise<StableGroup> {
  const joins = Array.from({ length: n }, (_, i) =>
    track(h.coordinator.join(joinReq(groupId, { clientId: `c${i}`, protocols: [{ name: 'range', metadata: Buffer.from(topics[i] ?? 't1') }] }))),
  );
  // Members after the first arrive during the initial delay: it is extended once.
  h.clock.advance(n > 1 ? 2 * INITIAL_DELAY_MS : INITIAL_DELAY_MS);
  const results = await Promise.all(joins.map((j) => resultOf(j)));
  for (const r of results) if (r.error) throw new Error(`join failed: ${r.error}`);
  const leader = results[0].leader;
  const members = results.map((r) => r.memberId);
  const generationId = results[0].generationId;
  const syncs = results.map((r) =>
    track(
      h.coordinator.sync({
        groupId,
        generationId,
        memberId: r.memberId,
        assignments: r.memberId === leader ? members.map((m) => ({ memberId: m, assignment: Buffer.from(`a-${m}`) })) : [],
      }),
    ),
  );
  for (const s of syncs) {
    const r = await resultOf(s);
    if (r.error) throw new Error(`sync failed: ${r.error}`);
  }
  return { generationId, leader, members };
}
