// kill -9 with SQS FIFO messages in flight: after the restart every group's
// messages come in their send order, the in-flight ones first again, nothing deleted
// is back and nothing undeleted is lost. The group of each recovered message is read
// back from the log (Queue.restoreGroups).

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { sqsClient as client } from '../helpers/aws.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';

const GROUPS = ['a', 'b', 'c'];
const PER_GROUP = 30;

async function receive(sqs: SQSClient, QueueUrl: string): Promise<Message[]> {
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600, MessageSystemAttributeNames: ['MessageGroupId'] }));
  return r.Messages ?? [];
}

test('FIFO order per group holds across kill -9 with messages in flight; deleted ones stay deleted', { skip: skipUnderReference, timeout: 120_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    let sqs = client(b.awsPort);
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'crash.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }));
    for (let i = 0; i < PER_GROUP; i++) {
      for (const g of GROUPS) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `${g}-${String(i).padStart(2, '0')}`, MessageGroupId: g }));
    }
    // Receive two batches: delete the first (one group's head run), keep the second in flight.
    const deleted = new Set<string>();
    const first = await receive(sqs, QueueUrl);
    assert.ok(first.length > 0);
    for (const m of first) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      deleted.add(m.Body ?? '');
    }
    const inFlight = await receive(sqs, QueueUrl);
    assert.ok(inFlight.length > 0, 'a second batch is in flight at the crash');
    // A send is answered after its fsync, which covers the deletes' acks written before it.
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'barrier', MessageGroupId: 'z' }));
    await b.kill('SIGKILL');

    b = await spawnBroker(dataDir);
    sqs = client(b.awsPort);
    const got = new Map<string, string[]>();
    // Groups came back from the log: the first receive takes one group's run, as before the crash.
    const again = await receive(sqs, QueueUrl);
    assert.deepEqual(again.map((m) => m.Body), inFlight.map((m) => m.Body));
    assert.equal(new Set(again.map((m) => m.Attributes?.MessageGroupId)).size, 1);
    const held = again[0].Attributes?.MessageGroupId;
    const next = await receive(sqs, QueueUrl);
    assert.ok(next.length > 0 && next.every((m) => m.Attributes?.MessageGroupId !== held), 'that group is held while its run is in flight');
    let pending: Message[] | undefined = [...again, ...next];
    for (;;) {
      const batch = pending ?? (await receive(sqs, QueueUrl));
      pending = undefined;
      if (batch.length === 0) break;
      for (const m of batch) {
        const g = m.Attributes?.MessageGroupId ?? '';
        (got.get(g) ?? got.set(g, []).get(g))?.push(m.Body ?? '');
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    await b.kill('SIGTERM');
    for (const g of GROUPS) {
      const expected = Array.from({ length: PER_GROUP }, (_, i) => `${g}-${String(i).padStart(2, '0')}`).filter((body) => !deleted.has(body));
      assert.deepEqual(got.get(g), expected, `group ${g}: in order, the in-flight ones back, the deleted ones not`);
    }
    assert.deepEqual(got.get('z'), ['barrier']);
    for (const m of inFlight) assert.ok(!deleted.has(m.Body ?? ''));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
