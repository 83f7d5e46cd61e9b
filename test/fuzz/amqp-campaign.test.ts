// A short seeded run of the AMQP fuzz campaign (test/fuzz/amqp-fuzz-core.ts;
// the long one is scripts/fuzz-amqp.ts): a few thousand generated and mutated
// frames against `wharf serve` in a child process, so that a crash shows as an
// exit rather than taking the test runner down. The broker must not crash nor
// log an internal error, and the amqplib clients publishing and consuming
// throughout must see every message, confirmed and intact.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeDataDir, skipUnderReference, spawnBroker, type SpawnedBroker } from '../helpers/broker.js';
import { formatFuzzStats, processRss, runFuzzCampaign } from './amqp-fuzz-core.js';

const SEED = 20261206;

describe('amqp fuzz campaign (short)', () => {
  let broker: SpawnedBroker | undefined;
  let dataDir = '';
  let exited = false;
  before(async () => {
    if (skipUnderReference) return;
    dataDir = await makeDataDir();
    broker = await spawnBroker(dataDir, ['--log-level', 'error']);
    void broker.exited.then(() => (exited = true));
  });
  after(async () => {
    if (broker && !exited) await broker.kill('SIGTERM');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('4000 frames: no crash, no internal error, correct clients unharmed', { timeout: 120_000, skip: skipUnderReference }, async () => {
    const b = broker as SpawnedBroker;
    const stats = await runFuzzCampaign({
      host: '127.0.0.1',
      port: b.port,
      seed: SEED,
      frames: 4000,
      concurrency: 8,
      correctClients: 2,
      rss: () => (b.process.pid === undefined ? undefined : processRss(b.process.pid)),
      crashed: () => exited,
    });
    const report = formatFuzzStats(SEED, stats);
    assert.equal(stats.crashes, 0, `${report}\n${b.stderr()}`);
    assert.deepEqual(stats.correctErrors, [], report);
    assert.ok(stats.frames >= 4000 && stats.connections > 10, report);
    assert.ok(stats.correctConsumed > 0 && stats.correctConsumed === stats.correctPublished, report);
    assert.equal((b.stderr().match(/internal error/g) ?? []).length, 0, b.stderr());
    assert.equal(stats.replyCodes.get(541) ?? 0, 0, report);
  });
});
