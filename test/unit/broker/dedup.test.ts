// De-duplication parts below the wire: the per-queue window (DedupCache), the
// argument parser, the key a message carries, the key record codec, and the
// journal that makes keys durable (ordering after the message log, failures,
// recovery, segment retention) on the in-memory log.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DedupJournal } from '../../../src/broker/dedup-journal.js';
import { BrokerError } from '../../../src/broker/errors.js';
import {
  DEDUP_CACHE_SIZE_DEFAULT,
  DEDUP_WINDOW_MS_DEFAULT,
  DedupCache,
  dedupKey,
  parseDedupArgs,
} from '../../../src/broker/queue/dedup.js';
import { DEDUP_KEY_BYTES_MAX, DedupRecordError, decodeDedupKey, encodeDedupKey } from '../../../src/store/dedup-log.js';
import { openMemoryLog, reopenMemoryLog, silentLogger, type Log } from '../../../src/store/index.js';
import { waitUntil } from '../../helpers/async.js';

const T0 = 1_700_000_000_000;

describe('DedupCache', () => {
  it('absorbs a key within its window and lets it through after', () => {
    const c = new DedupCache({ windowMs: 100, cacheSize: 10 });
    assert.equal(c.isDuplicate('k', T0), false);
    assert.equal(c.remember('k', T0), T0 + 100);
    assert.equal(c.isDuplicate('k', T0 + 99), true);
    assert.equal(c.isDuplicate('k', T0 + 100), false);
    assert.equal(c.size, 0, 'the expired key was dropped');
  });

  it('evicts the oldest key beyond the cache size, counting evictions', () => {
    const c = new DedupCache({ windowMs: 1000, cacheSize: 2 });
    c.remember('a', T0);
    c.remember('b', T0 + 1);
    c.remember('c', T0 + 2);
    assert.equal(c.size, 2);
    assert.equal(c.evictions, 1);
    assert.equal(c.isDuplicate('a', T0 + 3), false);
    assert.equal(c.isDuplicate('b', T0 + 3), true);
  });

  it('a key accepted again after expiry moves to the back', () => {
    const c = new DedupCache({ windowMs: 10, cacheSize: 2 });
    c.remember('a', T0);
    c.remember('b', T0 + 5);
    assert.equal(c.isDuplicate('a', T0 + 10), false); // expired: dropped from the front
    c.remember('a', T0 + 10);
    c.remember('c', T0 + 11); // evicts b, the oldest, not a
    assert.equal(c.isDuplicate('a', T0 + 12), true);
    assert.equal(c.isDuplicate('b', T0 + 12), false);
  });

  it('forget undoes only the matching remember', () => {
    const c = new DedupCache({ windowMs: 10, cacheSize: 5 });
    const first = c.remember('a', T0);
    c.forget('a', first + 1);
    assert.equal(c.isDuplicate('a', T0), true);
    c.forget('a', first);
    assert.equal(c.isDuplicate('a', T0), false);
  });
});

describe('parseDedupArgs', () => {
  it('is off unless x-message-deduplication is true; defaults follow SQS', () => {
    assert.equal(parseDedupArgs({}), undefined);
    assert.equal(parseDedupArgs({ 'x-message-deduplication': false, 'x-cache-size': 3 }), undefined);
    assert.deepEqual(parseDedupArgs({ 'x-message-deduplication': true }), {
      windowMs: DEDUP_WINDOW_MS_DEFAULT,
      cacheSize: DEDUP_CACHE_SIZE_DEFAULT,
    });
    assert.equal(DEDUP_WINDOW_MS_DEFAULT, 300_000);
  });

  it('reads numbers, bigints and typed wrappers', () => {
    const typed = { type: 'int16', value: 500 };
    assert.deepEqual(parseDedupArgs({ 'x-message-deduplication': true, 'x-deduplication-window': typed, 'x-cache-size': 7n }), {
      windowMs: 500,
      cacheSize: 7,
    });
  });

  it('names the argument and the queue in a 406', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ 'x-message-deduplication': 1 }, /^invalid arg 'x-message-deduplication' for queue 'q' in vhost '\/': expected a boolean, got 1 \(a number\)$/],
      [{ 'x-deduplication-window': -1n }, /^invalid arg 'x-deduplication-window' .*got -1$/],
      [{ 'x-deduplication-window': { scale: 1, value: 5 } }, /^invalid arg 'x-deduplication-window' .*expected an integer, got a table$/],
      [{ 'x-cache-size': 'big' }, /^invalid arg 'x-cache-size' .*got 'big' \(a string\)$/],
      [{ 'x-cache-size': Number.NaN }, /^invalid arg 'x-cache-size' .*got NaN$/],
    ];
    for (const [args, text] of cases) {
      assert.throws(
        () => parseDedupArgs(args, "queue 'q' in vhost '/'"),
        (err: unknown) => err instanceof BrokerError && err.kind === 'precondition-failed' && text.test(err.message),
        JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
      );
    }
  });
});

describe('dedupKey', () => {
  it('prefers x-deduplication-header (string or number) to message-id', () => {
    assert.equal(dedupKey({ headers: { 'x-deduplication-header': 'h' }, messageId: 'm' }), 'h');
    assert.equal(dedupKey({ headers: { 'x-deduplication-header': { type: 'int8', value: 42 } }, messageId: 'm' }), '42');
    assert.equal(dedupKey({ headers: { 'x-deduplication-header': 2n ** 40n }, messageId: undefined }), '1099511627776');
    assert.equal(dedupKey({ headers: { 'x-deduplication-header': true }, messageId: 'm' }), 'm', 'other types are ignored');
    assert.equal(dedupKey({ headers: undefined, messageId: 'm' }), 'm');
  });

  it('gives no key for messages with neither, or an empty one', () => {
    assert.equal(dedupKey({ headers: {}, messageId: undefined }), undefined);
    assert.equal(dedupKey({ headers: undefined, messageId: '' }), undefined);
  });

  it('hashes keys longer than 255 bytes, keeping distinct keys distinct', () => {
    const long = 'é'.repeat(200); // 400 bytes
    const a = dedupKey({ headers: { 'x-deduplication-header': long }, messageId: undefined }) as string;
    const b = dedupKey({ headers: { 'x-deduplication-header': `${long}x` }, messageId: undefined }) as string;
    assert.ok(Buffer.byteLength(a) <= DEDUP_KEY_BYTES_MAX);
    assert.notEqual(a, b);
    assert.equal(a, dedupKey({ headers: { 'x-deduplication-header': long }, messageId: undefined }));
    const fits = 'k'.repeat(DEDUP_KEY_BYTES_MAX);
    assert.equal(dedupKey({ headers: undefined, messageId: fits }), fits);
  });
});

describe('dedup key records', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(
        fc.record({
          queueId: fc.integer({ min: 1, max: 0xffffffff }),
          expiresAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          key: fc.string({ maxLength: 80 }),
        }),
        (r) => assert.deepEqual(decodeDedupKey(encodeDedupKey(r)), { ...r }),
      ),
    );
  });

  it('match the byte example in docs/storage-format.md', () => {
    const payload = encodeDedupKey({ queueId: 7, expiresAt: 1_700_000_300_000, key: 'k1' });
    assert.equal(payload.toString('hex'), '000000074278bcfe9fbe0000026b31');
  });

  it('refuse bad lengths', () => {
    assert.throws(() => encodeDedupKey({ queueId: 1, expiresAt: 1, key: 'k'.repeat(256) }), RangeError);
    const good = encodeDedupKey({ queueId: 1, expiresAt: 1, key: 'abc' });
    assert.throws(() => decodeDedupKey(good.subarray(0, 12)), DedupRecordError);
    assert.throws(() => decodeDedupKey(good.subarray(0, good.length - 1)), DedupRecordError);
    assert.throws(() => decodeDedupKey(Buffer.concat([good, Buffer.from([0])])), DedupRecordError);
  });
});

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve: () => void = () => {};
  let reject: (e: Error) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function records(log: Log): Promise<{ queueId: number; key: string; expiresAt: number }[]> {
  const out: { queueId: number; key: string; expiresAt: number }[] = [];
  await log.scan((r) => out.push(decodeDedupKey(r.payload)));
  return out;
}

describe('DedupJournal', () => {
  const noErrors = (err: unknown): void => assert.fail(`unexpected journal error: ${String(err)}`);

  it('appends a key only after the message log is synced, and resolves sync after its own', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const messages = deferred();
    const j = new DedupJournal(log, () => messages.promise, noErrors);
    const cache = new DedupCache({ windowMs: 1000, cacheSize: 10 });
    j.record(cache, 3, 'k', cache.remember('k', T0));
    let synced = false;
    const done = j.sync().then(() => {
      synced = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(await records(log), [], 'nothing written before the messages are durable');
    assert.equal(synced, false);
    messages.resolve();
    await done;
    assert.deepEqual(await records(log), [{ queueId: 3, key: 'k', expiresAt: T0 + 1000 }]);
    const after = await log.crash();
    assert.equal((await records(after)).length, 1, 'durable once sync resolved');
    await j.close().catch(() => undefined);
  });

  it('a failed round forgets its keys and rejects every caller waiting on it', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const messages = deferred();
    let calls = 0;
    const j = new DedupJournal(log, () => (++calls === 1 ? messages.promise : Promise.resolve()), () => undefined);
    const cache = new DedupCache({ windowMs: 1000, cacheSize: 10 });
    j.record(cache, 1, 'lost', cache.remember('lost', T0));
    const first = j.sync();
    j.record(cache, 1, 'later', cache.remember('later', T0));
    const second = j.sync(); // queued behind the failing round
    messages.reject(new Error('ENOSPC'));
    await assert.rejects(first, /ENOSPC/);
    await assert.rejects(second, /ENOSPC/);
    assert.equal(cache.isDuplicate('lost', T0), false, 'a nacked publish may be retried');
    assert.equal(cache.isDuplicate('later', T0), true, 'keys outside the failed round stay');
    await j.sync();
    assert.deepEqual((await records(log)).map((r) => r.key), ['later']);
    await j.close();
  });

  it('recovers the keys that have not expired, in order', async () => {
    const log = openMemoryLog({ logger: silentLogger });
    const j = new DedupJournal(log, () => Promise.resolve(), noErrors);
    const cache = new DedupCache({ windowMs: 100, cacheSize: 10 });
    j.record(cache, 1, 'old', cache.remember('old', T0));
    j.record(cache, 1, 'a', cache.remember('a', T0 + 50));
    j.record(cache, 2, 'b', cache.remember('b', T0 + 60));
    await j.sync();
    const reopened = await log.crash();
    const j2 = new DedupJournal(reopened, () => Promise.resolve(), noErrors);
    const got: [number, string, number][] = [];
    const n = await j2.recover((q, k, e) => got.push([q, k, e]), T0 + 120);
    assert.equal(n, 2);
    assert.deepEqual(got, [[1, 'a', T0 + 150], [2, 'b', T0 + 160]]);
    await j2.close();
  });

  it('deletes segments once every key in them has expired, never the active one', async () => {
    // Two 24-byte records (2-byte keys) per segment.
    const log = openMemoryLog({ logger: silentLogger, segmentBytesMax: 8 + 2 * 24 });
    const j = new DedupJournal(log, () => Promise.resolve(), noErrors);
    const now = Date.now();
    const expired = new DedupCache({ windowMs: 1, cacheSize: 100 });
    const live = new DedupCache({ windowMs: 600_000, cacheSize: 100 });
    for (let i = 0; i < 6; i++) j.record(expired, 1, `e${i}`, expired.remember(`e${i}`, now - 1000));
    j.record(live, 2, 'l0', live.remember('l0', now));
    await j.sync();
    for (let i = 6; i < 8; i++) j.record(expired, 1, `e${i}`, expired.remember(`e${i}`, now - 1000));
    await j.sync();
    // Segments: [e0 e1] [e2 e3] [e4 e5] [l0 e6] [e7]: the first three have only expired keys.
    await waitUntil(() => log.segments().length === 2, `old segments deleted (have ${log.segments().join(',')})`);
    await j.close();
    const reopened = await reopenMemoryLog(log.disk, { logger: silentLogger });
    const j2 = new DedupJournal(reopened, () => Promise.resolve(), noErrors);
    const keys: string[] = [];
    await j2.recover((_q, k) => keys.push(k));
    assert.deepEqual(keys, ['l0']);
    await j2.close();
  });
});
