// The SQS API (first slice: queue management and sending) through AWS SDK v3
// (@aws-sdk/client-sqs, AWS JSON 1.0 with SigV4): an SQS queue is an AMQP queue of the
// same name, so what the SDK sends an amqplib consumer receives, attributes as headers.
// The SDK checks the MD5 digests Wharf returns. Errors carry AWS's codes.

import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  DeleteMessageBatchCommand,
  ChangeMessageVisibilityCommand,
} from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS } from '../../helpers/async.js';
import { drainBodies, useBroker } from '../../helpers/amqplib.js';
import { errorName, safeName, sqsClient } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';

describe('SQS API (AWS SDK v3)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const sqs = (): SQSClient => sqsClient(ctx.broker.handle.awsPort ?? 0);

  it('creates a queue (twice is fine), finds its URL, lists it by prefix, deletes it', TEST_OPTS, async () => {
    const name = safeName('sqs-q');
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '45' } }));
    assert.match(QueueUrl ?? '', new RegExp(`/000000000000/${name}$`));
    assert.equal((await sqs().send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '45' } }))).QueueUrl, QueueUrl);
    assert.equal(await errorName(sqs().send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '10' } }))), 'QueueNameExists');
    assert.equal((await sqs().send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl, QueueUrl);
    assert.deepEqual((await sqs().send(new ListQueuesCommand({ QueueNamePrefix: name }))).QueueUrls, [QueueUrl]);
    const attrs = await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    assert.equal(attrs.Attributes?.VisibilityTimeout, '45');
    assert.equal(attrs.Attributes?.QueueArn, `arn:aws:sqs:us-east-1:000000000000:${name}`);
    await sqs().send(new DeleteQueueCommand({ QueueUrl }));
    assert.equal(await errorName(sqs().send(new GetQueueUrlCommand({ QueueName: name }))), 'QueueDoesNotExist');
    assert.equal(await errorName(sqs().send(new CreateQueueCommand({ QueueName: 'bad name!' }))), 'InvalidParameterValue');
  });

  it('what the SDK sends (with attributes) an amqplib consumer receives; the SDK verifies the MD5s', TEST_OPTS, async () => {
    const name = safeName('sqs-send');
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name }));
    const sent = await sqs().send(new SendMessageCommand({
      QueueUrl,
      MessageBody: '{"order": 7}',
      MessageAttributes: { tier: { DataType: 'String', StringValue: 'gold' }, amount: { DataType: 'Number', StringValue: '750' } },
    }));
    assert.match(sent.MessageId ?? '', /^[0-9a-f-]{36}$/);
    const batch = await sqs().send(new SendMessageBatchCommand({
      QueueUrl,
      Entries: [{ Id: 'a', MessageBody: 'second' }, { Id: 'b', MessageBody: '' }, { Id: 'c', MessageBody: 'third' }],
    }));
    assert.deepEqual(batch.Successful?.map((e) => e.Id), ['a', 'c']);
    assert.deepEqual(batch.Failed?.map((e) => [e.Id, e.Code, e.SenderFault]), [['b', 'MissingParameter', true]]);
    const attrs = await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessages, '3');

    const ch = await ctx.clients.channel();
    const first = await ch.get(name, { noAck: true });
    assert.ok(first);
    assert.equal(first.content.toString(), '{"order": 7}');
    const { 'x-sqs-sent-timestamp': sentMs, ...headers } = first.properties.headers ?? {};
    assert.deepEqual(headers, { tier: 'gold', amount: '750', 'x-sqs-attribute-types': JSON.stringify({ tier: 'String', amount: 'Number' }) });
    assert.equal(typeof sentMs, 'number', 'the send time in ms rides along for SentTimestamp');
    assert.equal(first.properties.messageId, sent.MessageId);
    assert.equal(first.properties.deliveryMode, 2);
    assert.deepEqual(await drainBodies(ch, name), ['second', 'third']);

    await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'to purge' }));
    await sqs().send(new PurgeQueueCommand({ QueueUrl }));
    assert.equal((await ch.checkQueue(name)).messageCount, 0);
  });

  it("refuses wrong signatures, unknown keys and unknown queues with AWS's codes", TEST_OPTS, async () => {
    const port = ctx.broker.handle.awsPort ?? 0;
    assert.equal(await errorName(sqsClient(port, { secretAccessKey: 'wrong' }).send(new ListQueuesCommand({}))), 'SignatureDoesNotMatch');
    assert.equal(await errorName(sqsClient(port, { accessKeyId: 'nobody' }).send(new ListQueuesCommand({}))), 'InvalidClientTokenId');
    const url = `http://127.0.0.1:${port}/000000000000/no-such-queue`;
    assert.equal(await errorName(sqs().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }))), 'QueueDoesNotExist');
    const big = 'x'.repeat(1024 * 1024 + 1);
    const name = safeName('sqs-big');
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name }));
    assert.equal(await errorName(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: big }))), 'InvalidParameterValue');
  });

  it('receives with leases: invisible while leased, back after ChangeMessageVisibility 0 or the timeout, gone once deleted', TEST_OPTS, async () => {
    const name = safeName('sqs-recv');
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name }));
    const sentFrom = Date.now();
    for (const body of ['one', 'two', 'three']) {
      await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageAttributes: { n: { DataType: 'Number', StringValue: '5' }, raw: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2]) } } }));
    }
    // The SDK checks MD5OfBody and MD5OfMessageAttributes of what it receives.
    const sentTo = Date.now();
    const first = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
    const firstAttrs = first.Messages?.[2].Attributes ?? {};
    const sent = Number(firstAttrs.SentTimestamp);
    assert.ok(sent >= sentFrom && sent <= sentTo, `SentTimestamp ${sent} is the send's time in ms, within [${sentFrom}, ${sentTo}]`);
    assert.ok(Number(firstAttrs.ApproximateFirstReceiveTimestamp) >= sent);
    assert.deepEqual(first.Messages?.map((m) => m.Body), ['one', 'two', 'three']);
    assert.deepEqual(first.Messages?.[0].MessageAttributes?.n, { DataType: 'Number', StringValue: '5' });
    assert.deepEqual([...(first.Messages?.[0].MessageAttributes?.raw.BinaryValue ?? [])], [1, 2]);
    assert.equal(first.Messages?.[0].Attributes?.ApproximateReceiveCount, '1');
    assert.equal((await sqs().send(new ReceiveMessageCommand({ QueueUrl }))).Messages, undefined, 'all three are leased');
    const ch = await ctx.clients.channel();
    assert.equal((await ch.checkQueue(name)).messageCount, 0, 'leased messages are not ready for AMQP consumers either');

    const [m1, m2, m3] = first.Messages ?? [];
    const del = await sqs().send(new DeleteMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', ReceiptHandle: m1.ReceiptHandle }, { Id: 'b', ReceiptHandle: m2.ReceiptHandle }, { Id: 'c', ReceiptHandle: 'forged.handle' }] }));
    assert.deepEqual(del.Successful?.map((e) => e.Id), ['a', 'b']);
    assert.deepEqual(del.Failed?.map((e) => e.Code), ['ReceiptHandleIsInvalid']);
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m3.ReceiptHandle, VisibilityTimeout: 0 }));
    const again = await sqs().send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    assert.equal(again.Messages?.[0].Body, 'three');
    assert.equal(again.Messages?.[0].Attributes?.ApproximateReceiveCount, '2');
    // Its 1 s lease runs out while this long poll waits; it comes back a third time.
    const third = await sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10, MessageSystemAttributeNames: ['All'] }));
    assert.equal(third.Messages?.[0].Body, 'three');
    assert.equal(third.Messages?.[0].Attributes?.ApproximateReceiveCount, '3');
    assert.equal(third.Messages?.[0].Attributes?.ApproximateFirstReceiveTimestamp, firstAttrs.ApproximateFirstReceiveTimestamp, 'the first receive stays the first');
    assert.equal(third.Messages?.[0].Attributes?.SentTimestamp, firstAttrs.SentTimestamp);
    await sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: third.Messages?.[0].ReceiptHandle }));
    assert.equal((await ch.checkQueue(name)).messageCount, 0);
    assert.equal(await errorName(sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'not-a-handle' }))), 'ReceiptHandleIsInvalid');
  });

  it('a long poll is woken by a send, from SQS or from AMQP', TEST_OPTS, async () => {
    const name = safeName('sqs-poll');
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name }));
    const waiting = sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }));
    const ch = await ctx.clients.channel();
    ch.sendToQueue(name, Buffer.from('from amqp'));
    const got = await waiting;
    assert.equal(got.Messages?.[0].Body, 'from amqp');
  });
});
