// SQS FIFO queues through AWS SDK v3 (@aws-sdk/client-sqs): `.fifo` names with
// FifoQueue, AWS's checks and texts, de-duplication over 5 minutes (a duplicate gets
// the first copy's MessageId and SequenceNumber), order per MessageGroupId with a
// group held back while one of its messages is in flight, the FIFO system attributes,
// and an AMQP consumer seeing the group as a header.

import {
  SetQueueAttributesCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { TEST_OPTS } from '../../helpers/async.js';
import { useBroker } from '../../helpers/amqplib.js';
import { failure, safeName, sqsClient as client } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';

const fifoName = (prefix: string): string => `${safeName(prefix)}.fifo`;

describe('SQS FIFO queues (AWS SDK v3)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const sqs = (): SQSClient => client(ctx.broker.handle.awsPort ?? 0);

  async function fifoQueue(prefix: string, attributes: Record<string, string> = {}): Promise<string> {
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: fifoName(prefix), Attributes: { FifoQueue: 'true', ...attributes } }));
    return QueueUrl ?? '';
  }

  it("creates FIFO queues only with a .fifo name and FifoQueue=true, with AWS's texts; high-throughput attributes are kept", TEST_OPTS, async () => {
    const badStandard = await failure(sqs().send(new CreateQueueCommand({ QueueName: fifoName('no-flag') })));
    assert.deepEqual(badStandard, { name: 'InvalidParameterValue', message: 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length' });
    const badFifo = await failure(sqs().send(new CreateQueueCommand({ QueueName: 'no-suffix', Attributes: { FifoQueue: 'true' } })));
    assert.deepEqual(badFifo, { name: 'InvalidParameterValue', message: 'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.' });
    const fifoOnly = await failure(sqs().send(new CreateQueueCommand({ QueueName: 'std-cbd', Attributes: { ContentBasedDeduplication: 'true' } })));
    assert.deepEqual(fifoOnly, { name: 'InvalidAttributeName', message: 'Unknown Attribute ContentBasedDeduplication.' });
    const badScope = await failure(sqs().send(new CreateQueueCommand({ QueueName: fifoName('scope'), Attributes: { FifoQueue: 'true', DeduplicationScope: 'everything' } })));
    assert.deepEqual(badScope, { name: 'InvalidAttributeValue', message: 'Invalid value for the parameter DeduplicationScope.' });
    const badLimit = await failure(sqs().send(new CreateQueueCommand({ QueueName: fifoName('limit'), Attributes: { FifoQueue: 'true', FifoThroughputLimit: 'perMessageGroupId' } })));
    assert.deepEqual(badLimit, { name: 'InvalidAttributeValue', message: 'Invalid value for the parameter FifoThroughputLimit.' }, 'perMessageGroupId needs DeduplicationScope messageGroup');

    const url = await fifoQueue('fifo-ht', { DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId', ContentBasedDeduplication: 'true' });
    assert.match(url, /\.fifo$/);
    const attrs = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
    assert.equal(attrs.FifoQueue, 'true');
    assert.equal(attrs.ContentBasedDeduplication, 'true');
    assert.equal(attrs.DeduplicationScope, 'messageGroup');
    assert.equal(attrs.FifoThroughputLimit, 'perMessageGroupId');
    const plain = await fifoQueue('fifo-defaults');
    const defaults = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl: plain, AttributeNames: ['All'] }))).Attributes ?? {};
    assert.deepEqual([defaults.FifoQueue, defaults.ContentBasedDeduplication, defaults.DeduplicationScope, defaults.FifoThroughputLimit], ['true', 'false', 'queue', 'perQueue']);
    const std = await sqs().send(new CreateQueueCommand({ QueueName: safeName('std') }));
    const stdAttrs = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl: std.QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
    assert.equal(stdAttrs.FifoQueue, undefined, 'a standard queue has no FIFO attributes');

    // SetQueueAttributes: FifoQueue=true changes nothing, anything else would change the type (AWS refuses);
    // the FIFO rules hold on the merged attributes.
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl: plain, Attributes: { FifoQueue: 'true' } }));
    assert.deepEqual(await failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl: plain, Attributes: { FifoQueue: 'false' } }))), {
      name: 'InvalidAttributeValue',
      message: 'Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.',
    });
    assert.deepEqual(await failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl: plain, Attributes: { FifoThroughputLimit: 'perMessageGroupId' } }))), {
      name: 'InvalidAttributeValue',
      message: 'Invalid value for the parameter FifoThroughputLimit.',
    });
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl: plain, Attributes: { DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId', ContentBasedDeduplication: 'true' } }));
    const changed = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl: plain, AttributeNames: ['All'] }))).Attributes ?? {};
    assert.deepEqual([changed.FifoQueue, changed.ContentBasedDeduplication, changed.DeduplicationScope, changed.FifoThroughputLimit], ['true', 'true', 'messageGroup', 'perMessageGroupId']);
  });

  it("checks sends as AWS does: MessageGroupId required, a de-duplication id or content-based de-duplication, no per-message delay", TEST_OPTS, async () => {
    const QueueUrl = await fifoQueue('fifo-checks');
    assert.deepEqual(await failure(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageDeduplicationId: 'd' }))), {
      name: 'MissingParameter',
      message: 'The request must contain the parameter MessageGroupId.',
    });
    assert.deepEqual(await failure(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageGroupId: 'g' }))), {
      name: 'InvalidParameterValue',
      message: 'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
    });
    assert.deepEqual(await failure(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd', DelaySeconds: 5 }))), {
      name: 'InvalidParameterValue',
      message: 'Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.',
    });
    const std = await sqs().send(new CreateQueueCommand({ QueueName: safeName('std-dedup') }));
    assert.deepEqual(await failure(sqs().send(new SendMessageCommand({ QueueUrl: std.QueueUrl, MessageBody: 'x', MessageDeduplicationId: 'd' }))), {
      name: 'InvalidParameterValue',
      message: 'Value d for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.',
    });
    // AWS: an entry without its group fails the whole batch; other checks fail the entry alone.
    const noGroup = await failure(sqs().send(new SendMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: 'ok', MessageBody: 'a', MessageGroupId: 'g', MessageDeduplicationId: 'a' },
        { Id: 'nogroup', MessageBody: 'b', MessageDeduplicationId: 'b' },
      ],
    })));
    assert.deepEqual(noGroup, { name: 'InvalidParameterValue', message: 'The request must contain the parameter MessageGroupId.' });
    const batch = await sqs().send(new SendMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: 'ok', MessageBody: 'a', MessageGroupId: 'g', MessageDeduplicationId: 'a' },
        { Id: 'badgroup', MessageBody: 'b', MessageGroupId: 'g h', MessageDeduplicationId: 'b' },
      ],
    }));
    assert.deepEqual(batch.Successful?.map((e) => e.Id), ['ok']);
    assert.match(batch.Successful?.[0].SequenceNumber ?? '', /^\d{20}$/);
    assert.deepEqual(batch.Failed?.map((e) => [e.Id, e.Code, e.SenderFault]), [['badgroup', 'InvalidParameterValue', true]]);
  });

  it('a duplicate within the window is accepted, not enqueued, and answered with the first MessageId and SequenceNumber', TEST_OPTS, async () => {
    const QueueUrl = await fifoQueue('fifo-dedup', { ContentBasedDeduplication: 'true' });
    const first = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'once', MessageGroupId: 'g', MessageDeduplicationId: 'k1' }));
    const again = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'once more', MessageGroupId: 'g', MessageDeduplicationId: 'k1' }));
    assert.equal(again.MessageId, first.MessageId);
    assert.equal(again.SequenceNumber, first.SequenceNumber);
    // Content-based: the body's SHA-256 is the id; the same body twice is one message.
    const c1 = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'same body', MessageGroupId: 'g' }));
    const c2 = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'same body', MessageGroupId: 'g' }));
    assert.equal(c2.MessageId, c1.MessageId);
    const later = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'other body', MessageGroupId: 'g' }));
    assert.match(first.SequenceNumber ?? '', /^\d{20}$/);
    assert.ok(BigInt(c1.SequenceNumber ?? '0') > BigInt(first.SequenceNumber ?? '0'));
    assert.ok(BigInt(later.SequenceNumber ?? '0') > BigInt(c1.SequenceNumber ?? '0'));
    const attrs = await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessages, '3');
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }));
    assert.deepEqual(got.Messages?.map((m) => m.Body), ['once', 'same body', 'other body']);
    const [m1, m2] = got.Messages ?? [];
    assert.equal(m1.Attributes?.MessageGroupId, 'g');
    assert.equal(m1.Attributes?.MessageDeduplicationId, 'k1');
    assert.equal(m1.Attributes?.SequenceNumber, first.SequenceNumber);
    assert.equal(m2.Attributes?.MessageDeduplicationId, createHash('sha256').update('same body').digest('hex'));
    assert.equal(m1.MessageAttributes, undefined, 'the FIFO headers are not message attributes');
  });

  it('orders per group and holds a group back while one of its messages is in flight; other groups proceed', TEST_OPTS, async () => {
    const QueueUrl = await fifoQueue('fifo-order');
    let n = 0;
    for (const [group, body] of [['a', 'a1'], ['b', 'b1'], ['a', 'a2'], ['b', 'b2'], ['a', 'a3']]) {
      await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: String(n++) }));
    }
    const receive = async (max = 1): Promise<Message[]> =>
      (await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: max, VisibilityTimeout: 60, ReceiveRequestAttemptId: `attempt-${n++}`, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))).Messages ?? [];
    const [a1] = await receive();
    assert.equal(a1.Body, 'a1');
    const [b1] = await receive();
    assert.equal(b1.Body, 'b1', 'a is held back while a1 is in flight');
    assert.deepEqual(await receive(10), [], 'both groups have a message in flight');
    await sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: a1.ReceiptHandle }));
    // A receive takes as many of one group as it asks for, in order.
    const rest = await receive(10);
    assert.deepEqual(rest.map((m) => m.Body), ['a2', 'a3']);
    // b1 back (visibility 0): it, not b2, comes next, its receive count up.
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: b1.ReceiptHandle, VisibilityTimeout: 0 }));
    // FIFO: a handle whose lease ended cannot delete (AWS), in both shapes.
    assert.deepEqual(await failure(sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: b1.ReceiptHandle }))), {
      name: 'InvalidParameterValue',
      message: `Value ${b1.ReceiptHandle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`,
    });
    const batchDelete = await sqs().send(new DeleteMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'old', ReceiptHandle: b1.ReceiptHandle }] }));
    assert.deepEqual(batchDelete.Failed?.map((f) => [f.Code, f.Message, f.SenderFault]), [['ReceiptHandleIsInvalid', 'The receipt handle has expired', true]]);
    const bs = await receive(10);
    assert.deepEqual(bs.map((m) => m.Body), ['b1', 'b2']);
    assert.equal(bs[0].Attributes?.ApproximateReceiveCount, '2');
    // a2 goes back while a3 is still in flight: a stays held until a3 is done.
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: rest[0].ReceiptHandle, VisibilityTimeout: 0 }));
    assert.deepEqual(await receive(10), []);
    await sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: rest[1].ReceiptHandle }));
    assert.deepEqual((await receive(10)).map((m) => m.Body), ['a2']);
  });

  it('a receive retried with the same ReceiveRequestAttemptId returns the same messages and handles until one is changed', TEST_OPTS, async () => {
    const QueueUrl = await fifoQueue('fifo-attempt', { ContentBasedDeduplication: 'true' });
    for (const body of ['m1', 'm2', 'm3']) await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: body === 'm3' ? 'h' : 'g' }));
    const ask = (id: string, max = 2): Promise<Message[]> =>
      sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: max, VisibilityTimeout: 60, ReceiveRequestAttemptId: id })).then((r) => r.Messages ?? []);
    const first = await ask('try-1');
    assert.deepEqual(first.map((m) => m.Body), ['m1', 'm2']);
    const retry = await ask('try-1');
    assert.deepEqual(retry.map((m) => [m.Body, m.ReceiptHandle]), first.map((m) => [m.Body, m.ReceiptHandle]));
    assert.deepEqual((await ask('try-2')).map((m) => m.Body), ['m3'], 'another attempt id is a new receive');
    await sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first[0].ReceiptHandle }));
    assert.deepEqual(await ask('try-1'), [], 'after a delete the retry is a new receive (g is still held by m2)');
    assert.equal((await failure(ask('bad id with spaces'))).name, 'InvalidParameterValue');
  });

  it('an AMQP consumer sees the group, the de-duplication id and the sequence number as headers', TEST_OPTS, async () => {
    const QueueUrl = await fifoQueue('fifo-amqp');
    const sent = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello', MessageGroupId: 'orders-7', MessageDeduplicationId: 'd-1' }));
    const ch = await ctx.clients.channel();
    const name = QueueUrl.slice(QueueUrl.lastIndexOf('/') + 1);
    const m = await ch.get(name, { noAck: true });
    assert.ok(m);
    assert.equal(m.content.toString(), 'hello');
    assert.equal(m.properties.headers?.['x-message-group-id'], 'orders-7');
    assert.equal(m.properties.headers?.['x-sqs-deduplication-id'], 'd-1');
    assert.equal(m.properties.headers?.['x-sqs-sequence-number'], sent.SequenceNumber);
  });
});
