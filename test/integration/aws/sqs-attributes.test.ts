// SQS queue attributes through AWS SDK v3 (@aws-sdk/client-sqs): Get/SetQueueAttributes
// with AWS's defaults, ranges and error codes, persisted timestamps, tags,
// DelaySeconds (queue and message; held by the broker's delayed store, durable across
// a restart), MessageRetentionPeriod as the AMQP queue's x-message-ttl, and
// ChangeMessageVisibilityBatch with per-entry failures.

import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS } from '../../helpers/async.js';
import { useBroker } from '../../helpers/amqplib.js';
import { failure, safeName as qname, sqsClient as client, type Failure } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';

describe('SQS queue attributes (AWS SDK v3)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const sqs = (): SQSClient => client(ctx.broker.handle.awsPort ?? 0);
  const attrs = async (QueueUrl: string, names: string[] = ['All']): Promise<Record<string, string>> =>
    (await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: names as never }))).Attributes ?? {};

  it('has AWS defaults, takes SetQueueAttributes, keeps them and the creation time across a restart', TEST_OPTS, async () => {
    const before = Math.floor(Date.now() / 1000);
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: qname('sqs-attrs') }));
    const first = await attrs(QueueUrl);
    assert.equal(first.MaximumMessageSize, '1048576');
    assert.equal(first.MessageRetentionPeriod, '345600');
    assert.equal(first.SqsManagedSseEnabled, 'true');
    assert.equal(first.DelaySeconds, '0');
    assert.equal(first.ApproximateNumberOfMessagesDelayed, '0');
    assert.equal(first.RedrivePolicy, undefined);
    const created = Number(first.CreatedTimestamp);
    assert.ok(created >= before && created <= Math.ceil(Date.now() / 1000), `CreatedTimestamp ${created} is the creation time`);

    const policy = '{"Version":"2012-10-17","Statement":[]}';
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { KmsMasterKeyId: 'alias/aws/sqs' } }));
    const kms = await attrs(QueueUrl, ['KmsDataKeyReusePeriodSeconds', 'SqsManagedSseEnabled']);
    assert.deepEqual(kms, { KmsDataKeyReusePeriodSeconds: '300', SqsManagedSseEnabled: 'false' });
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: '5', MaximumMessageSize: '1024', Policy: policy, KmsMasterKeyId: 'alias/aws/sqs', KmsDataKeyReusePeriodSeconds: '600' } }));
    const set = await attrs(QueueUrl);
    assert.equal(set.VisibilityTimeout, '5');
    assert.equal(set.MaximumMessageSize, '1024');
    assert.equal(set.Policy, policy);
    assert.equal(set.KmsMasterKeyId, 'alias/aws/sqs');
    assert.equal(set.KmsDataKeyReusePeriodSeconds, '600');
    assert.equal(set.SqsManagedSseEnabled, 'false');
    assert.ok(Number(set.LastModifiedTimestamp) >= created);
    // The new MaximumMessageSize is enforced.
    const big = await failure(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'x'.repeat(1025) })));
    assert.equal(big.name, 'InvalidParameterValue');

    await ctx.restart();
    const after = await attrs(QueueUrl, ['VisibilityTimeout', 'Policy', 'CreatedTimestamp', 'LastModifiedTimestamp']);
    assert.deepEqual(after, { VisibilityTimeout: '5', Policy: policy, CreatedTimestamp: first.CreatedTimestamp, LastModifiedTimestamp: set.LastModifiedTimestamp });
  });

  it('refuses unknown names, read-only attributes and values out of AWS ranges with its codes', TEST_OPTS, async () => {
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: qname('sqs-attrs-bad') }));
    const set = (a: Record<string, string>): Promise<Failure> => failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: a })));
    assert.equal((await failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl } as never)))).name, 'MissingParameter');
    assert.deepEqual(await set({ Colour: 'blue' }), { name: 'InvalidAttributeName', message: 'Unknown Attribute Colour.' });
    assert.deepEqual(await set({ QueueArn: 'x' }), { name: 'InvalidAttributeName', message: 'Unknown Attribute QueueArn.' });
    assert.deepEqual(await set({ DelaySeconds: '901' }), { name: 'InvalidAttributeValue', message: 'Invalid value for the parameter DelaySeconds.' });
    assert.equal((await set({ MaximumMessageSize: '1023' })).name, 'InvalidAttributeValue');
    assert.equal((await set({ MaximumMessageSize: '1048577' })).name, 'InvalidAttributeValue');
    assert.equal((await set({ MessageRetentionPeriod: '59' })).name, 'InvalidAttributeValue');
    assert.equal((await set({ MessageRetentionPeriod: '1209601' })).name, 'InvalidAttributeValue');
    assert.equal((await set({ VisibilityTimeout: 'ten' })).name, 'InvalidAttributeValue');
    assert.equal((await set({ ReceiveMessageWaitTimeSeconds: '21' })).name, 'InvalidAttributeValue');
    assert.equal((await set({ Policy: 'not json' })).name, 'InvalidParameterValue');
    // AWS's code for this one is InvalidAttributeName (LocalStack's snapshot of AWS).
    assert.deepEqual(await set({ SqsManagedSseEnabled: 'true', KmsMasterKeyId: 'alias/aws/sqs' }), {
      name: 'InvalidAttributeName',
      message: 'You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.',
    });
    const get = await failure(sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['Nope' as never] })));
    assert.deepEqual(get, { name: 'InvalidAttributeName', message: 'Unknown Attribute Nope.' });
    // Nothing changed.
    assert.equal((await attrs(QueueUrl, ['DelaySeconds'])).DelaySeconds, '0');
  });

  it('keeps the retention period as the AMQP queue\'s x-message-ttl', TEST_OPTS, async () => {
    const name = qname('sqs-retention');
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: name, Attributes: { MessageRetentionPeriod: '120' } }));
    const ttl = async (): Promise<unknown> => {
      const res = await fetch(`http://127.0.0.1:${ctx.broker.handle.httpPort}/api/queues/%2F/${name}`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
      return ((await res.json()) as { arguments: Record<string, unknown> }).arguments['x-message-ttl'];
    };
    assert.equal(await ttl(), 120_000);
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { MessageRetentionPeriod: '60' } }));
    assert.equal(await ttl(), 60_000);
    assert.equal((await attrs(QueueUrl, ['MessageRetentionPeriod'])).MessageRetentionPeriod, '60');
  });

  it('tags: on CreateQueue, TagQueue, UntagQueue, ListQueueTags, AWS limits, kept across a restart', TEST_OPTS, async () => {
    const name = qname('sqs-tags');
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: name, tags: { team: 'orders' } }));
    assert.deepEqual((await sqs().send(new ListQueueTagsCommand({ QueueUrl }))).Tags, { team: 'orders' });
    await sqs().send(new TagQueueCommand({ QueueUrl, Tags: { env: 'test', cost: 'c1' } }));
    await sqs().send(new UntagQueueCommand({ QueueUrl, TagKeys: ['cost'] }));
    assert.deepEqual((await sqs().send(new ListQueueTagsCommand({ QueueUrl }))).Tags, { team: 'orders', env: 'test' });
    const many = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, 'v']));
    assert.deepEqual(await failure(sqs().send(new TagQueueCommand({ QueueUrl, Tags: many }))), { name: 'InvalidParameterValue', message: `Too many tags added for queue ${name}.` });
    assert.equal((await failure(sqs().send(new TagQueueCommand({ QueueUrl, Tags: { ['k'.repeat(129)]: 'v' } })))).name, 'InvalidParameterValue');
    assert.equal((await failure(sqs().send(new TagQueueCommand({ QueueUrl, Tags: {} })))).name, 'MissingParameter');
    await ctx.restart();
    assert.deepEqual((await sqs().send(new ListQueueTagsCommand({ QueueUrl }))).Tags, { team: 'orders', env: 'test' });
  });

  it('DelaySeconds per message and per queue: invisible and counted as delayed until due', TEST_OPTS, async () => {
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: qname('sqs-delay') }));
    await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'later', DelaySeconds: 1 }));
    const now = await attrs(QueueUrl, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed']);
    assert.deepEqual(now, { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesDelayed: '1' });
    assert.equal((await sqs().send(new ReceiveMessageCommand({ QueueUrl }))).Messages, undefined);
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
    assert.equal(got.Messages?.[0]?.Body, 'later');
    assert.equal((await attrs(QueueUrl, ['ApproximateNumberOfMessagesDelayed'])).ApproximateNumberOfMessagesDelayed, '0');

    // The queue's default applies to messages that do not say; an entry's own 0 wins.
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { DelaySeconds: '1' } }));
    const batch = await sqs().send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'queue-delay' }, { Id: 'b', MessageBody: 'now', DelaySeconds: 0 }, { Id: 'c', MessageBody: 'bad', DelaySeconds: 901 }] }));
    assert.deepEqual(batch.Successful?.map((e) => e.Id), ['a', 'b']);
    assert.deepEqual(batch.Failed?.map((e) => [e.Id, e.Code, e.Message]), [['c', 'InvalidParameterValue', 'Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.']]);
    const immediate = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    assert.deepEqual(immediate.Messages?.map((m) => m.Body), ['now']);
    const delayed = await sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
    assert.deepEqual(delayed.Messages?.map((m) => m.Body), ['queue-delay']);
  });

  it('a delayed message is on disk when the send is answered: it arrives after a restart', TEST_OPTS, async () => {
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: qname('sqs-delay-durable') }));
    await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'survives', DelaySeconds: 2, MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } }));
    await ctx.restart();
    assert.equal((await attrs(QueueUrl, ['ApproximateNumberOfMessagesDelayed'])).ApproximateNumberOfMessagesDelayed, '1');
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10, MessageAttributeNames: ['All'] }));
    assert.equal(got.Messages?.[0]?.Body, 'survives');
    assert.deepEqual(got.Messages?.[0]?.MessageAttributes, { k: { DataType: 'String', StringValue: 'v' } });
    await sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: got.Messages?.[0]?.ReceiptHandle }));
    // Released (and recorded so): after another restart nothing is delayed or delivered again.
    await ctx.restart();
    assert.deepEqual(await attrs(QueueUrl, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed']), { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesDelayed: '0' });
  });

  it('ChangeMessageVisibilityBatch changes each entry and reports each failure', TEST_OPTS, async () => {
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: qname('sqs-cmvb') }));
    await sqs().send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: '1', MessageBody: 'one' }, { Id: '2', MessageBody: 'two' }] }));
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }));
    assert.equal(got.Messages?.length, 2);
    const [one, two] = got.Messages ?? [];
    const out = await sqs().send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl,
      Entries: [
        { Id: 'a', ReceiptHandle: one.ReceiptHandle, VisibilityTimeout: 0 },
        { Id: 'b', ReceiptHandle: 'forged', VisibilityTimeout: 0 },
        { Id: 'c', ReceiptHandle: two.ReceiptHandle, VisibilityTimeout: 43_201 },
      ],
    }));
    assert.deepEqual(out.Successful?.map((e) => e.Id), ['a']);
    assert.deepEqual(out.Failed?.map((e) => [e.Id, e.Code, e.SenderFault]), [['b', 'ReceiptHandleIsInvalid', true], ['c', 'InvalidParameterValue', true]]);
    const again = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    assert.deepEqual(again.Messages?.map((m) => m.Body), [one.Body]);
    const empty = await failure(sqs().send(new ChangeMessageVisibilityBatchCommand({ QueueUrl, Entries: [] })));
    assert.equal(empty.name, 'EmptyBatchRequest');
  });
});
