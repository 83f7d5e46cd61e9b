// A handle budget shared by several file logs: with room for one open file, logs written and
// read in turn keep closing each other's handles, active segments included, and reopening
// them; every record must still be where it was appended, before and after a reopen.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HandleBudget, openFileLog, silentLogger, type Log, type LogPosition } from '../../../src/store/index.js';

const LOGS = 4;
const ROUNDS = 30;

function payload(log: number, i: number): Buffer {
  return Buffer.from(`log ${log} record ${i} `.repeat(1 + (i % 7)));
}

test('logs sharing a one-handle budget keep every record through evictions and a reopen', async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-budget-'));
  try {
    const budget = new HandleBudget(1);
    const open = (i: number): Promise<Log> =>
      openFileLog({ dir: join(root, `l${i}`), fsync: 'batch', logger: silentLogger, segmentBytesMax: 1024, openFilesMax: 2, handleBudget: budget });
    let logs = await Promise.all(Array.from({ length: LOGS }, (_, i) => open(i)));
    const positions: LogPosition[][] = logs.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      // Interleaved appends, syncs and reads: each log's handles are closed by the others' opens.
      for (const [i, log] of logs.entries()) positions[i].push(log.append(1, payload(i, r)));
      await Promise.all(logs.map((l) => l.sync()));
      for (const [i, log] of logs.entries()) {
        const got = await log.read(positions[i][Math.floor(r / 2)]);
        assert.deepEqual(got.payload, payload(i, Math.floor(r / 2)));
      }
    }
    assert.ok(logs.some((l) => l.segments().length > 1), 'segments rolled');
    assert.ok(budget.size <= LOGS, `${budget.size} handles under the budget once quiet`);
    await Promise.all(logs.map((l) => l.close()));
    logs = await Promise.all(Array.from({ length: LOGS }, (_, i) => open(i)));
    for (const [i, log] of logs.entries()) {
      const all = await log.readFrom(positions[i][0], 1 << 30);
      assert.deepEqual(all.map((x) => x.payload), Array.from({ length: ROUNDS }, (_, r) => payload(i, r)));
      // Appends go on after the reopen, into the active segment whose handle was closed.
      positions[i].push(log.append(1, payload(i, ROUNDS)));
    }
    await Promise.all(logs.map((l) => l.sync()));
    for (const [i, log] of logs.entries()) assert.deepEqual((await log.read(positions[i][ROUNDS])).payload, payload(i, ROUNDS));
    await Promise.all(logs.map((l) => l.close()));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
