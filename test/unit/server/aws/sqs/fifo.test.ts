// The SQS FIFO checks and numbers that need no broker: CreateQueue's name and
// attribute rules, a send's group and de-duplication key (per queue or per group),
// and sequence numbers that only grow, also when the clock steps back.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { FifoSequencer, fifoAttributes, fifoSend, GROUP_HEADER } from '../../../../../src/server/aws/sqs/fifo.js';
import { AwsError } from '../../../../../src/server/aws/errors.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof AwsError);
    return err.code;
  }
  return 'none';
};

test('CreateQueue: .fifo names need FifoQueue=true and the reverse; FIFO attributes need a FIFO queue', () => {
  assert.deepEqual(fifoAttributes('q.fifo', { FifoQueue: 'true', VisibilityTimeout: '5' }), { fifo: { FifoQueue: 'true' }, rest: { VisibilityTimeout: '5' } });
  assert.deepEqual(fifoAttributes('q', { VisibilityTimeout: '5' }), { fifo: undefined, rest: { VisibilityTimeout: '5' } });
  // AWS: FifoQueue=false does not name a standard queue, it is an unknown attribute of one.
  assert.equal(code(() => fifoAttributes('q', { FifoQueue: 'false' })), 'InvalidAttributeName');
  assert.equal(code(() => fifoAttributes('q.fifo', {})), 'InvalidParameterValue');
  assert.equal(code(() => fifoAttributes('q.fifo', { FifoQueue: 'false' })), 'InvalidParameterValue');
  assert.equal(code(() => fifoAttributes('q', { FifoQueue: 'true' })), 'InvalidParameterValue');
  assert.equal(code(() => fifoAttributes(`${'x'.repeat(76)}.fifo`, { FifoQueue: 'true' })), 'InvalidParameterValue', '81 characters');
  assert.equal(code(() => fifoAttributes(`${'x'.repeat(75)}.fifo`, { FifoQueue: 'true' })), 'none', '80 characters');
  assert.equal(code(() => fifoAttributes('q', { FifoQueue: 'yes' })), 'InvalidAttributeValue');
  assert.equal(code(() => fifoAttributes('q', { DeduplicationScope: 'queue' })), 'InvalidAttributeName');
  assert.equal(code(() => fifoAttributes('q.fifo', { FifoQueue: 'true', FifoThroughputLimit: 'perMessageGroupId' })), 'InvalidAttributeValue');
  assert.equal(code(() => fifoAttributes('q.fifo', { FifoQueue: 'true', FifoThroughputLimit: 'perMessageGroupId', DeduplicationScope: 'messageGroup' })), 'none');
});

test('a send: group required, explicit or content-based de-duplication id, key scoped per group on request', () => {
  const queueScope = { FifoQueue: 'true', ContentBasedDeduplication: 'true' };
  const sha = createHash('sha256').update('body').digest('hex');
  assert.equal(fifoSend({ MessageGroupId: 'g' }, 'body', queueScope).key, sha);
  assert.equal(fifoSend({ MessageGroupId: 'g', MessageDeduplicationId: 'd' }, 'body', queueScope).key, 'd');
  const grouped = fifoSend({ MessageGroupId: 'g', MessageDeduplicationId: 'd' }, 'body', { ...queueScope, DeduplicationScope: 'messageGroup' });
  assert.notEqual(grouped.key, fifoSend({ MessageGroupId: 'h', MessageDeduplicationId: 'd' }, 'body', { ...queueScope, DeduplicationScope: 'messageGroup' }).key);
  assert.equal(grouped.headers[GROUP_HEADER], 'g');
  assert.equal(code(() => fifoSend({ MessageDeduplicationId: 'd' }, 'b', queueScope)), 'MissingParameter');
  assert.equal(code(() => fifoSend({ MessageGroupId: 'g' }, 'b', { FifoQueue: 'true' })), 'InvalidParameterValue');
  assert.equal(code(() => fifoSend({ MessageGroupId: 'g'.repeat(129) }, 'b', queueScope)), 'InvalidParameterValue');
  assert.equal(code(() => fifoSend({ MessageGroupId: 'g', DelaySeconds: 1 }, 'b', queueScope)), 'InvalidParameterValue');
  assert.equal(code(() => fifoSend({ MessageGroupId: 'g', DelaySeconds: 0 }, 'b', queueScope)), 'none');
});

test('sequence numbers: 20 digits, always growing, also when the clock steps back', () => {
  const s = new FifoSequencer();
  const now = Date.UTC(2026, 0, 1);
  const seen = [s.next(now), s.next(now), s.next(now + 1), s.next(now - 10_000), s.next(now + 5)];
  for (const n of seen) assert.match(n, /^\d{20}$/);
  for (let i = 1; i < seen.length; i++) assert.ok(BigInt(seen[i]) > BigInt(seen[i - 1]), `${seen[i]} > ${seen[i - 1]}`);
});
