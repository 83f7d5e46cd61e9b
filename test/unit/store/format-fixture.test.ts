// STYLE.md habit 8: a data dir written by store format 1 is kept as a fixture. This build must
// open it and read every record; and writing the same records today must give the same bytes, so
// a format change cannot slip in unnoticed (it needs a version bump, a migration and a new fixture).

import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Log, openDataDir, openFileLog, silentLogger } from '../../../src/store/index.js';
import { removeDir, scanAll, tempRoot } from './helpers.js';

// Compiled to dist/test/unit/store; the fixture stays in the source tree.
const FIXTURE = fileURLToPath(new URL('../../../../test/unit/store/fixtures/store-format-1', import.meta.url));
const SEGMENT_BYTES_MAX = 128;

/** The records in the fixture, in order (they span several 128-byte segments). */
export const FIXTURE_RECORDS: readonly { type: number; payload: Buffer }[] = [
  { type: 1, payload: Buffer.from('hello') },
  { type: 2, payload: Buffer.from('world') },
  { type: 255, payload: Buffer.alloc(0) },
  { type: 0, payload: Buffer.from('0123456789'.repeat(4)) },
  { type: 4, payload: Buffer.concat([Buffer.from([0, 1, 2, 3, 254, 255]), Buffer.from('binary')]) },
  { type: 3, payload: Buffer.from('a record that rolls the log over into the next segment file'.repeat(2)) },
  { type: 1, payload: Buffer.from('last') },
];

export function appendFixtureRecords(log: Log): void {
  for (const r of FIXTURE_RECORDS) log.append(r.type, r.payload);
}

test('a store-format-1 data dir from the fixture opens and reads back every record', async () => {
  const root = await tempRoot();
  try {
    const dir = path.join(root, 'data');
    await fs.cp(FIXTURE, dir, { recursive: true });
    const dd = await openDataDir(dir, silentLogger);
    const log = await openFileLog({ dir: dd.messagesDir, fsync: 'batch', logger: silentLogger, segmentBytesMax: SEGMENT_BYTES_MAX });
    const records = await scanAll(log);
    assert.deepEqual(
      records.map((r) => ({ type: r.type, payload: r.payload })),
      FIXTURE_RECORDS,
    );
    assert.ok(log.segments().length >= 3);
    await log.close();
    await dd.release();
    assert.deepEqual(await fs.readdir(dd.quarantineDir), [], 'nothing was cut');
  } finally {
    await removeDir(root);
  }
});

test('writing the fixture records today gives the fixture bytes', async () => {
  const root = await tempRoot();
  try {
    const dir = path.join(root, 'messages');
    const log = await openFileLog({ dir, fsync: 'batch', logger: silentLogger, segmentBytesMax: SEGMENT_BYTES_MAX });
    appendFixtureRecords(log);
    await log.close();
    const fixtureDir = path.join(FIXTURE, 'messages');
    const names = (await fs.readdir(fixtureDir)).sort();
    assert.deepEqual((await fs.readdir(dir)).sort(), names);
    for (const name of names) {
      assert.deepEqual(await fs.readFile(path.join(dir, name)), await fs.readFile(path.join(fixtureDir, name)), name);
    }
    assert.equal(await fs.readFile(path.join(FIXTURE, 'FORMAT'), 'utf8'), 'wharf-store 1\n');
  } finally {
    await removeDir(root);
  }
});
