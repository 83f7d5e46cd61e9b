// bench/streams: its command line, sizes, and that every step's flags are ones perf-kafka accepts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STREAM_WORKLOADS, parseSize, parseStreamArgs, recordsForBytes } from '../../../bench/lib/stream-workloads.js';
import { parseKafkaPerfArgs } from '../../../src/cli/perf/kafka-options.js';

describe('bench streams: arguments and workloads', () => {
  it('defaults: k1-k4, three rounds of 10 s after 2 s, 100 B records, 10 GiB retained, both endpoints', () => {
    const o = parseStreamArgs([]);
    assert.deepEqual(o.workloads, ['k1', 'k2', 'k3', 'k4']);
    assert.equal(o.rounds, 3);
    assert.equal(o.durationSecs, 10);
    assert.equal(o.warmupSecs, 2);
    assert.equal(o.sizeBytes, 100);
    assert.equal(o.k3Rate, 50_000);
    assert.equal(o.k4Bytes, 10 * 1024 ** 3);
    assert.equal(o.k4ReadBack, true);
    assert.deepEqual(o.brokers, ['wharf', 'kafka-ceiling']);
  });

  it('takes a CI-sized run', () => {
    const o = parseStreamArgs(['--workloads', 'K4, k1', '--rounds', '1', '--k4-bytes', '200MiB', '--no-k4-read-back', '--brokers', 'wharf']);
    assert.deepEqual(o.workloads, ['k4', 'k1']);
    assert.equal(o.k4Bytes, 200 * 1024 * 1024);
    assert.equal(o.k4ReadBack, false);
    assert.deepEqual(o.brokers, ['wharf']);
    assert.throws(() => parseStreamArgs(['--workloads', 'k9']), /unknown workload 'k9'/);
    assert.throws(() => parseStreamArgs(['--brokers', 'rabbitmq']), /unknown endpoint 'rabbitmq'/);
  });

  it('sizes with units', () => {
    assert.equal(parseSize('10GiB'), 10 * 1024 ** 3);
    assert.equal(parseSize('1.5 MiB'), 1.5 * 1024 ** 2);
    assert.equal(parseSize('2GB'), 2e9);
    assert.equal(parseSize('4096'), 4096);
    assert.throws(() => parseSize('ten gigs'), /not a size/);
  });

  it('records for a retained size count the record and batch overheads', () => {
    // 100 B values: 108 B a record, plus 70 B of batch and store headers per 1000.
    assert.equal(recordsForBytes(108_070, 100, 1000), 1000);
    assert.ok(recordsForBytes(10 * 1024 ** 3, 100, 1000) > 99_000_000);
  });

  it('every step of k1-k3 is a valid perf-kafka command line', () => {
    const o = parseStreamArgs([]);
    for (const id of ['k1', 'k2', 'k3'] as const) {
      const steps = STREAM_WORKLOADS[id].steps(o);
      assert.ok(steps.some((s) => s.measured), id);
      for (const s of steps) assert.equal(parseKafkaPerfArgs(['--bootstrap', 'h:1', ...s.args]).command, 'perf-kafka', `${id} ${s.name}`);
    }
    assert.deepEqual(STREAM_WORKLOADS.k2.steps(o).map((s) => s.name), ['k2-fill', 'k2-warm', 'k2']);
  });
});
