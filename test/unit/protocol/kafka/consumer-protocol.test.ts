// Group member metadata and assignments of the "consumer" protocol: version
// prefixed, in the bytes kafkajs writes (v0, as kafkajs 2.2 does), and newer
// versions read as the highest known, as Kafka's ConsumerProtocol does.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { KafkaProtocolError, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '../../../../src/protocol/kafka/index.js';

const require = createRequire(import.meta.url);
const { MemberMetadata, MemberAssignment } = require('kafkajs/src/consumer/assignerProtocol') as {
  MemberMetadata: { encode(m: { version: number; topics: string[]; userData?: Buffer }): Buffer };
  MemberAssignment: { encode(m: { version: number; assignment: Record<string, number[]>; userData?: Buffer }): Buffer };
};

test('kafkajs member metadata and assignments decode, and encode to the same bytes at v0', () => {
  const meta = MemberMetadata.encode({ version: 0, topics: ['a', 'b'], userData: Buffer.from([9]) });
  const sub = decodeSubscription(meta);
  assert.equal(sub.version, 0);
  assert.deepEqual(sub.data.topics, ['a', 'b']);
  assert.deepEqual(sub.data.userData, Buffer.from([9]));
  assert.deepEqual(encodeSubscription({ topics: ['a', 'b'], userData: Buffer.from([9]) }, 0), meta);

  const assignment = MemberAssignment.encode({ version: 0, assignment: { a: [0, 2], b: [1] } });
  const asg = decodeAssignment(assignment);
  assert.deepEqual(asg.data.assignedPartitions, [
    { topic: 'a', partitions: [0, 2] },
    { topic: 'b', partitions: [1] },
  ]);
  assert.deepEqual(encodeAssignment({ assignedPartitions: asg.data.assignedPartitions, userData: Buffer.alloc(0) }, 0), assignment);
});

test('v3 subscriptions carry owned partitions, generation and rack', () => {
  const data = { topics: ['t'], userData: null, ownedPartitions: [{ topic: 't', partitions: [0, 1] }], generationId: 4, rackId: 'r1' };
  const bytes = encodeSubscription(data);
  assert.equal(bytes.readInt16BE(0), 3);
  assert.deepEqual(decodeSubscription(bytes), { version: 3, data });
});

test('a version above the highest known is read as the highest (fields only ever append)', () => {
  const bytes = encodeSubscription({ topics: ['t'], generationId: 2, rackId: null });
  const future = Buffer.concat([bytes, Buffer.from([1, 2, 3])]);
  future.writeInt16BE(9, 0);
  const sub = decodeSubscription(future);
  assert.equal(sub.version, 9);
  assert.deepEqual(sub.data.topics, ['t']);
  assert.equal(sub.data.generationId, 2);
});

test('garbage and negative versions are protocol errors', () => {
  assert.throws(() => decodeSubscription(Buffer.from([0xff, 0xff])), KafkaProtocolError);
  assert.throws(() => decodeSubscription(Buffer.from([0, 0, 0, 0, 0, 5])), KafkaProtocolError);
  assert.throws(() => decodeAssignment(Buffer.from([0])), KafkaProtocolError);
});
