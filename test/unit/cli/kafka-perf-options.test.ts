// `wharf perf-kafka` argument parsing (pure functions).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine, UsageError } from '../../../src/cli/config.js';
import { kafkaPerfDefaults, kafkaPerfHelpText, parseKafkaPerfArgs, type KafkaPerfOptions } from '../../../src/cli/perf/kafka-options.js';
import { consumerPartitions } from '../../../src/cli/perf/kafka-run.js';

const BOOTSTRAP = ['--bootstrap', '127.0.0.1:9999'];

function perf(args: string[]): KafkaPerfOptions {
  const cmd = parseKafkaPerfArgs([...BOOTSTRAP, ...args]);
  assert.equal(cmd.command, 'perf-kafka');
  return (cmd as Extract<typeof cmd, { command: 'perf-kafka' }>).options;
}

function refused(args: string[], pattern: RegExp): void {
  assert.throws(() => parseKafkaPerfArgs(args), (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('wharf perf-kafka options', () => {
  it('defaults: one producer and consumer, 100 B records, acks=all, batches of 1000, 10 s', () => {
    assert.deepEqual(perf([]), { ...kafkaPerfDefaults, bootstrap: '127.0.0.1:9999' });
    assert.equal(perf([]).acks, -1);
    assert.equal(perf([]).durationSec, 10);
  });

  it('is reached through the wharf command line, with its own help', () => {
    const cmd = parseCommandLine(['perf-kafka', ...BOOTSTRAP, '--producers', '3'], {}, () => '');
    assert.equal(cmd.command, 'perf-kafka');
    assert.equal((cmd as Extract<typeof cmd, { command: 'perf-kafka' }>).options.producers, 3);
    assert.deepEqual(parseCommandLine(['perf-kafka', '--help'], {}, () => ''), { command: 'help', text: kafkaPerfHelpText });
  });

  it('every flag of the contract', () => {
    const o = perf([
      '--topic', 'bench', '--partitions', '6', '--producers', '2', '--consumers', '3', '--size', '512', '--acks', '1',
      '--batch-records', '200', '--linger', '10', '--max-in-flight', '8', '--compression', 'zstd', '--rate', '50000',
      '--duration', '7', '--warmup', '3', '--from-beginning', '--fetch-max-bytes', '1000000', '--partition-max-bytes', '4194304',
      '--fetch-max-wait', '100', '--no-create', '--no-cleanup', '--json',
    ]);
    assert.deepEqual(o, {
      bootstrap: '127.0.0.1:9999', topic: 'bench', partitions: 6, producers: 2, consumers: 3, sizeBytes: 512, acks: 1,
      batchRecords: 200, lingerMs: 10, maxInFlight: 8, compression: 'zstd', ratePerSec: 50000, durationSec: 7, warmupSec: 3,
      records: 0, drain: false, fromBeginning: true, fetchMaxBytes: 1000000, partitionMaxBytes: 4194304, fetchMaxWaitMs: 100,
      create: false, cleanup: false, json: true,
    });
  });

  it('acks: 0, 1, -1 and all', () => {
    assert.equal(perf(['--acks', '0']).acks, 0);
    assert.equal(perf(['--acks', '1']).acks, 1);
    assert.equal(perf(['--acks=-1']).acks, -1);
    assert.equal(perf(['--acks', 'all']).acks, -1);
    refused([...BOOTSTRAP, '--acks', '2'], /invalid --acks: "2" \(expected 0, 1, -1 or all\)/);
  });

  it('--records and --drain end the run by count: no default duration', () => {
    assert.equal(perf(['--records', '100']).durationSec, undefined);
    assert.equal(perf(['--producers', '0', '--drain']).durationSec, undefined);
    assert.equal(perf(['--records', '100', '--duration', '5']).durationSec, 5);
  });

  it('refuses what cannot run', () => {
    refused([], /--bootstrap is required/);
    refused(['--bootstrap', 'localhost'], /--bootstrap: 'localhost' is not host:port/);
    refused([...BOOTSTRAP, '--producers', '0', '--consumers', '0'], /nothing to do/);
    refused([...BOOTSTRAP, '--producers', '0', '--records', '5'], /--records needs at least one producer/);
    refused([...BOOTSTRAP, '--drain'], /use it with --producers 0/);
    refused([...BOOTSTRAP, '--producers', '0', '--consumers', '0', '--drain'], /nothing to do/);
    refused([...BOOTSTRAP, '--records', '5', '--warmup', '1'], /--warmup needs a timed run/);
    refused([...BOOTSTRAP, '--size', '7'], /invalid --size: "7" \(expected a whole number from 8 to 1048576\)/);
    refused([...BOOTSTRAP, '--compression', 'brotli'], /invalid --compression: "brotli"/);
    refused([...BOOTSTRAP, '--topic', 'no spaces'], /invalid --topic/);
    refused([...BOOTSTRAP, '--max-in-flight', '0'], /invalid --max-in-flight/);
    refused([...BOOTSTRAP, '--batch-records', 'many'], /invalid --batch-records/);
    refused([...BOOTSTRAP, '--url', 'amqp://x'], /perf-kafka: Unknown option '--url'/);
  });

  it('consumers split the partitions between them; a consumer beyond the partitions gets none', () => {
    assert.deepEqual(consumerPartitions([0, 1, 2, 3, 4], 0, 2), [0, 2, 4]);
    assert.deepEqual(consumerPartitions([0, 1, 2, 3, 4], 1, 2), [1, 3]);
    assert.deepEqual(consumerPartitions([0], 1, 2), []);
  });
});
