// kill -9 a broker serving SQS: messages sent with DelaySeconds (each send answered,
// so on disk), a queue's attributes and tags, and a message redriven to its DLQ. After a
// restart on the same data dir every delayed message arrives exactly once, the
// attributes and tags are as set, and the redriven message is in exactly one queue.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { sqsArn as arn, sqsClient as client } from '../helpers/aws.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';
import { waitUntil } from '../helpers/async.js';

const DELAYED = 50;

test('kill -9: delayed sends, attributes, tags and a redriven message survive', { skip: skipUnderReference, timeout: 60_000 }, async () => {
  const dataDir = await makeDataDir();
  let broker = await spawnBroker(dataDir);
  try {
    let sqs = client(broker.awsPort);
    const { QueueUrl: delayedUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'crash-delayed', tags: { team: 'a' } }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: delayedUrl, Attributes: { VisibilityTimeout: '7', DelaySeconds: '2' } }));
    const { QueueUrl: dlqUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'crash-dlq' }));
    const { QueueUrl: sourceUrl = '' } = await sqs.send(new CreateQueueCommand({
      QueueName: 'crash-source',
      Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn('crash-dlq'), maxReceiveCount: 1 }) },
    }));
    await sqs.send(new SendMessageCommand({ QueueUrl: sourceUrl, MessageBody: 'poison' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: sourceUrl }));
    assert.equal(got.Messages?.length, 1);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: sourceUrl, ReceiptHandle: got.Messages?.[0]?.ReceiptHandle, VisibilityTimeout: 0 }));
    // Sent with the queue's DelaySeconds; each answer means the message is on disk.
    const sent = new Set<string>();
    for (let i = 0; i < DELAYED; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl: delayedUrl, MessageBody: `d${i}` }));
      sent.add(`d${i}`);
    }
    await broker.kill('SIGKILL');

    broker = await spawnBroker(dataDir);
    sqs = client(broker.awsPort);
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: delayedUrl, AttributeNames: ['VisibilityTimeout', 'DelaySeconds'] }));
    assert.deepEqual(attrs.Attributes, { VisibilityTimeout: '7', DelaySeconds: '2' });
    assert.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl: delayedUrl }))).Tags, { team: 'a' });

    const received = new Map<string, number>();
    await waitUntil(async () => {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: delayedUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) {
        received.set(m.Body ?? '', (received.get(m.Body ?? '') ?? 0) + 1);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: delayedUrl, ReceiptHandle: m.ReceiptHandle }));
      }
      return received.size >= sent.size;
    }, 'every delayed message after the restart', 30_000);
    assert.deepEqual([...received.keys()].sort(), [...sent].sort());
    assert.ok([...received.values()].every((n) => n === 1), 'each delayed message arrived once');

    // The redriven message: in the DLQ or (its move not yet on disk) back in the source; never both, never neither.
    const count = async (QueueUrl: string): Promise<number> =>
      Number((await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.ApproximateNumberOfMessages);
    assert.equal((await count(dlqUrl)) + (await count(sourceUrl)), 1);
  } finally {
    await broker.kill('SIGKILL').catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
});
