// A seeded crash simulator for the offsets log: random commits, deletions and group changes with
// small segments (so snapshots and segment deletion happen all the time), power cuts at random
// moments (with torn writes), failing fsyncs. After each crash the recovered state must hold every
// change already confirmed: after a clean power cut it is the state after a prefix of the submitted
// changes; after one that left torn writes, the confirmed changes and then some of the others.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OffsetStore } from '../../../../../src/broker/stream/groups/offset-store.js';
import type { OffsetEntry, StoredGroupMeta, TopicPartitionRef } from '../../../../../src/broker/stream/groups/records.js';
import { type MemoryLog, openMemoryLog, reopenMemoryLog, silentLogger } from '../../../../../src/store/index.js';
import { settle } from '../../../../helpers/manual-scheduler.js';
import { seededRandom as rng } from '../../../../../src/util/random.js';

type Op =
  | { kind: 'commit'; groupId: string; entries: OffsetEntry[] }
  | { kind: 'delete-offsets'; groupId: string; partitions: TopicPartitionRef[] }
  | { kind: 'delete-group'; groupId: string }
  | { kind: 'meta'; groupId: string; meta: StoredGroupMeta };

type Model = Map<string, { meta: StoredGroupMeta | undefined; offsets: Map<string, OffsetEntry> }>;

function randomOp(rand: () => number, n: number): Op {
  const groupId = `g${Math.floor(rand() * 4)}`;
  const pick = rand();
  const partition = () => Math.floor(rand() * 5);
  if (pick < 0.65) {
    const entries = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({
      topic: rand() < 0.5 ? 'a' : 'b',
      partition: partition(),
      offset: n,
      leaderEpoch: -1,
      metadata: rand() < 0.3 ? 'x'.repeat(Math.floor(rand() * 200)) : '',
      commitTimestampMs: n,
      expireTimestampMs: -1,
    }));
    return { kind: 'commit', groupId, entries };
  }
  if (pick < 0.8) return { kind: 'delete-offsets', groupId, partitions: [{ topic: 'a', partition: partition() }] };
  if (pick < 0.9) return { kind: 'meta', groupId, meta: { protocolType: 'consumer', generationId: n, emptySinceMs: rand() < 0.5 ? -1 : n } };
  return { kind: 'delete-group', groupId };
}

function apply(model: Model, op: Op): void {
  const g = model.get(op.groupId) ?? { meta: undefined, offsets: new Map<string, OffsetEntry>() };
  switch (op.kind) {
    case 'commit':
      for (const e of op.entries) g.offsets.set(`${e.topic}/${e.partition}`, e);
      break;
    case 'delete-offsets':
      for (const p of op.partitions) g.offsets.delete(`${p.topic}/${p.partition}`);
      break;
    case 'meta':
      g.meta = op.meta;
      break;
    case 'delete-group':
      model.delete(op.groupId);
      return;
  }
  if (g.offsets.size === 0 && !g.meta) model.delete(op.groupId);
  else model.set(op.groupId, g);
}

function render(model: Model): string {
  const groups = [...model.keys()].sort().map((id) => {
    const g = model.get(id)!;
    const offsets = [...g.offsets.entries()].sort().map(([k, e]) => `${k}=${e.offset}:${e.metadata.length}`);
    return `${id} ${JSON.stringify(g.meta ?? null)} ${offsets.join(',')}`;
  });
  return groups.join('\n');
}

function storeModel(store: OffsetStore): Model {
  const model: Model = new Map();
  for (const id of store.groupIds()) {
    model.set(id, { meta: store.meta(id), offsets: new Map(store.offsets(id).map((e) => [`${e.topic}/${e.partition}`, e])) });
  }
  return model;
}

function submit(store: OffsetStore, op: Op): Promise<void> {
  switch (op.kind) {
    case 'commit':
      return store.commit(op.groupId, op.entries);
    case 'delete-offsets':
      return store.deleteOffsets(op.groupId, op.partitions);
    case 'meta':
      return store.setMeta(op.groupId, op.meta);
    case 'delete-group':
      return store.deleteGroup(op.groupId);
  }
}

/** A power cut; recovery's own fsync may hit a planned fault, and then it is simply retried. */
async function crashAndRecover(log: MemoryLog, tear: boolean): Promise<MemoryLog> {
  try {
    return await log.crash({ tear });
  } catch {
    for (let attempt = 0; ; attempt++) {
      try {
        return await reopenMemoryLog(log.disk, { logger: silentLogger, segmentBytesMax: STORE_OPTS.segmentBytesMax });
      } catch (err) {
        if (attempt === 5) throw err;
      }
    }
  }
}

const STORE_OPTS = { logger: silentLogger, segmentBytesMax: 1024, compactBytesMin: 2048 };

async function simulate(seed: number): Promise<{ crashes: number; snapshots: number }> {
  const rand = rng(seed);
  const failFsyncAt = Array.from({ length: 5 }, () => 1 + Math.floor(rand() * 400));
  let log: MemoryLog = openMemoryLog({ logger: silentLogger, segmentBytesMax: STORE_OPTS.segmentBytesMax, faults: { seed, failFsyncAt } });
  let store = await OffsetStore.openOnLog(log, STORE_OPTS);
  let baseline: Model = new Map();
  let ops: Op[] = [];
  let confirmed = 0;
  let crashes = 0;
  let snapshots = 0;
  let n = 0;
  for (let step = 0; step < 150; step++) {
    const burst = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < burst; i++) {
      const op = randomOp(rand, n++);
      const index = ops.length;
      const mine = ops;
      ops.push(op);
      submit(store, op).then(
        () => {
          // Changes settle in order: a confirmed change means everything before it is in too.
          if (mine === ops) confirmed = Math.max(confirmed, index + 1);
        },
        (err: Error) => {
          // A failed fsync: the log cut this change (its whole batch) and went on without it.
          // A crash ('log is dead') leaves it unknown, like any unconfirmed change.
          if (/ENOSPC/.test(err.message)) mine[index] = { kind: 'delete-offsets', groupId: '__lost__', partitions: [] };
        },
      );
    }
    await settle(Math.floor(rand() * 4));
    if (rand() < 0.08 || step === 149) {
      snapshots += store.stats.snapshots;
      const tear = rand() < 0.5;
      log = await crashAndRecover(log, tear);
      store = await OffsetStore.openOnLog(log, STORE_OPTS);
      crashes++;
      const recovered = render(storeModel(store));
      const where = `seed ${seed} step ${step} (${tear ? 'torn' : 'clean'} crash, ${confirmed} of ${ops.length} confirmed)`;
      if (!tear) {
        // Only durable bytes survive: exactly a prefix of the changes, with every confirmed one.
        assert.ok(prefixStates(baseline, ops, confirmed).includes(recovered), `${where}: recovered state is no such prefix\n${recovered}`);
      } else {
        // Torn pieces of unsynced writes may survive in a later segment while an earlier segment
        // lost its unsynced tail (log recovery cuts each segment on its own): every confirmed
        // change, then some of the unconfirmed ones in order.
        const reachable = subsequenceStates(baseline, ops, confirmed);
        if (reachable) {
          subsequenceChecks++;
          assert.ok(reachable.has(recovered), `${where}: recovered state is not reachable\n${recovered}`);
        }
      }
      baseline = storeModel(store);
      ops = [];
      confirmed = 0;
    }
  }
  await store.close();
  return { crashes, snapshots };
}

function prefixStates(baseline: Model, ops: readonly Op[], confirmed: number): string[] {
  const out: string[] = [];
  const model: Model = structuredClone(baseline);
  for (let k = 0; k <= ops.length; k++) {
    if (k > 0) apply(model, ops[k - 1]);
    if (k >= confirmed) out.push(render(model));
  }
  return out;
}

/** The states of every confirmed change plus any in-order subset of the rest; undefined if too many. */
function subsequenceStates(baseline: Model, ops: readonly Op[], confirmed: number): Set<string> | undefined {
  if (ops.length - confirmed > 10) return undefined;
  const model: Model = structuredClone(baseline);
  for (const op of ops.slice(0, confirmed)) apply(model, op);
  let states = new Map<string, Model>([[render(model), model]]);
  for (const op of ops.slice(confirmed)) {
    const next = new Map(states);
    for (const m of states.values()) {
      const applied: Model = structuredClone(m);
      apply(applied, op);
      next.set(render(applied), applied);
    }
    states = next;
  }
  return new Set(states.keys());
}

let subsequenceChecks = 0;

test('offsets log: recovery after random crashes keeps every confirmed change and nothing out of order', { timeout: 120_000 }, async () => {
  let crashes = 0;
  let snapshots = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const r = await simulate(seed);
    crashes += r.crashes;
    snapshots += r.snapshots;
  }
  assert.ok(crashes >= 100, `crashes: ${crashes}`);
  assert.ok(subsequenceChecks >= 30, `torn crashes checked: ${subsequenceChecks}`);
  assert.ok(snapshots >= 30, `snapshots: ${snapshots}`);
});
