// A short seeded Jepsen-style run against replicated Kafka topics (docs/cluster.md, "Proving
// it"): three `wharf serve --cluster` nodes and a private etcd, kafkajs producers with acks=all
// (idempotence off and on), a nemesis that kills partition leaders with kill -9 (alone, or with
// another node) and pauses them with SIGSTOP, a heal, and a checker over every replica's logs on
// disk. The long run is `node dist/scripts/cluster-soak.js --seconds 300 --seed N`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check } from '../../helpers/jepsen/checker.js';
import { jepsenRun, summary } from '../../helpers/jepsen/run.js';

describe('Jepsen-style check of replicated stream partitions', () => {
  it('the checker counts a lost acknowledged record, a divergent offset, a gap in the prefix and duplicates', () => {
    const log = (...values: string[]): Map<number, string> => new Map(values.map((v, o) => [o, v]));
    const whole = check([[log('a', 'b', 'c'), log('a', 'b', 'c'), log('a', 'b', 'c')]], [{ partition: 0, offset: 1, value: 'b' }], new Set(['c']), () => false);
    assert.deepEqual([whole.lost, whole.divergent, whole.prefixGaps, whole.duplicates, whole.unackedPresent], [0, 0, 0, 0, 1]);
    const gap = log('a', 'b', 'c');
    gap.delete(1);
    const bad = check(
      [[log('a', 'b', 'c', 'a'), log('a', 'x', 'c'), gap]],
      [{ partition: 0, offset: 1, value: 'b' }, { partition: 0, offset: 2, value: 'c' }],
      new Set(),
      (v) => v === 'a',
    );
    assert.equal(bad.lost, 1, 'b is not at offset 1 on two replicas');
    assert.equal(bad.divergent, 1, 'offset 1 holds b and x');
    assert.equal(bad.prefixGaps, 1, 'a replica lacks offset 1');
    assert.deepEqual([bad.duplicates, bad.idempotentDuplicates], [1, 1]);
    assert.deepEqual(bad.logEnds, { 0: [4, 3, 3] });
  });

  it('kill -9 (of one node or two) and SIGSTOP of leaders under acks=all producers: nothing acknowledged is lost, no replica diverges, every ISR recovers', { timeout: 150_000 }, async (t) => {
    const result = await jepsenRun({ seed: 16, seconds: 18, minRounds: 1, producers: 4, partitions: 2 });
    for (const line of summary(result)) t.diagnostic(line);
    assert.ok(result.events.some((e) => e.kind !== 'pause') && result.events.some((e) => e.kind === 'pause'), 'the nemesis killed and paused leaders');
    assert.ok(result.acknowledged > 0, 'records were acknowledged');
    assert.equal(result.check.lost, 0, `no acknowledged record lost: ${result.check.problems.join('; ')}`);
    assert.equal(result.check.divergent, 0, `no offset holds two values: ${result.check.problems.join('; ')}`);
    assert.equal(result.check.prefixGaps, 0, `every replica holds the acknowledged prefix: ${result.check.problems.join('; ')}`);
    assert.equal(result.isrRecovered, true, 'every ISR holds all three replicas after the heal');
    assert.equal(result.quorumless.count, 0, `nothing acknowledged while no node could: ${result.quorumless.problems.join('; ')}`);
  });
});
