// Log.truncate: the cut is exact and durable, appends continue after it, and a power loss at any
// point while it runs leaves a prefix of the log from before that recovery accepts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type LogPosition, type MemoryLog, openMemoryLog, silentLogger } from '../../../src/store/index.js';
import { payloadFor, scanAll } from './helpers.js';

const OPTS = { fsync: 'batch' as const, logger: silentLogger, segmentBytesMax: 300, writeBufferBytesMax: 128 };

async function filled(n: number): Promise<{ log: MemoryLog; positions: LogPosition[] }> {
  const log = openMemoryLog(OPTS);
  const positions: LogPosition[] = [];
  for (let i = 0; i < n; i++) positions.push(log.append(1, payloadFor(i)));
  await log.sync();
  return { log, positions };
}

const ids = async (log: MemoryLog): Promise<string[]> => (await scanAll(log)).map((r) => r.payload.toString('hex'));

describe('log truncation', () => {
  test('cuts at a record, deletes later segments, and takes appends after the cut', async () => {
    const { log, positions } = await filled(30);
    assert.ok(log.segments().length >= 4);
    const cut = positions[12];
    await log.truncate(cut);
    assert.equal(log.activeSegment(), cut.segment);
    assert.deepEqual(await ids(log), Array.from({ length: 12 }, (_, i) => payloadFor(i).toString('hex')));
    const next = log.append(1, payloadFor(99));
    assert.deepEqual(next, cut); // the next record starts where the cut was
    await log.sync();
    const after = await log.crash();
    assert.deepEqual(await ids(after), [...Array.from({ length: 12 }, (_, i) => payloadFor(i).toString('hex')), payloadFor(99).toString('hex')]);
    await after.close();
  });

  test('refuses a position that is not in the log', async () => {
    const { log } = await filled(3);
    await assert.rejects(log.truncate({ segment: 7, offset: 20 }), RangeError);
    await log.close();
  });

  test('a power loss at any point of a truncation leaves a prefix at least as long as the cut', async () => {
    const before = (await filled(30)).positions;
    const all = Array.from({ length: 30 }, (_, i) => payloadFor(i).toString('hex'));
    let finished = false;
    for (let ticks = 0; !finished; ticks++) {
      assert.ok(ticks < 200, 'the truncation never finished');
      const { log } = await filled(30);
      const done = log.truncate(before[7]).then(() => true, () => false);
      for (let t = 0; t < ticks; t++) await new Promise((r) => setImmediate(r));
      finished = await Promise.race([done, Promise.resolve(false)]);
      const recovered = await log.crash();
      const got = await ids(recovered);
      assert.ok(got.length >= 7, `after ${ticks} ticks: ${got.length} records`);
      assert.deepEqual(got, all.slice(0, got.length), `after ${ticks} ticks: not a prefix`);
      if (finished) assert.equal(got.length, 7);
      await recovered.close();
    }
  });
});
