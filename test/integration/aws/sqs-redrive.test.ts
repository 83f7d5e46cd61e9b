// SQS dead-letter redrive through AWS SDK v3: a RedrivePolicy's maxReceiveCount (a
// message received that many times and not deleted goes to the DLQ), its validation
// and the DLQ's RedriveAllowPolicy, ListDeadLetterSourceQueues with pagination, and
// message move tasks back from the DLQ (Start/List/CancelMessageMoveTask). The DLQ is an
// AMQP queue too: amqplib sees the dead-lettered message with its x-death history.

import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type ListMessageMoveTasksResultEntry,
} from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, waitUntil } from '../../helpers/async.js';
import { useBroker } from '../../helpers/amqplib.js';
import { failure, safeName as qname, sqsArn as arn, sqsClient as client } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';

describe('SQS dead-letter redrive (AWS SDK v3)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const sqs = (): SQSClient => client(ctx.broker.handle.awsPort ?? 0);

  /** A DLQ and a source queue redriving to it after maxReceiveCount receives. */
  async function pair(maxReceiveCount: number): Promise<{ source: string; dlq: string; sourceUrl: string; dlqUrl: string }> {
    const dlq = qname('sqs-dlq');
    const source = qname('sqs-src');
    const { QueueUrl: dlqUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: dlq }));
    const { QueueUrl: sourceUrl = '' } = await sqs().send(new CreateQueueCommand({
      QueueName: source,
      Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(dlq), maxReceiveCount }) },
    }));
    return { source, dlq, sourceUrl, dlqUrl };
  }

  /** Receives the one message and makes it visible again at once (a failed processing). */
  async function receiveAndFail(QueueUrl: string): Promise<string | undefined> {
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'], MessageAttributeNames: ['All'] }));
    const m = got.Messages?.[0];
    if (!m) return undefined;
    // Only what was sent: a redelivery's x-delivery-count header is the broker's, not an attribute.
    assert.ok(!Object.keys(m.MessageAttributes ?? {}).some((k) => k.startsWith('x-')), `attributes ${Object.keys(m.MessageAttributes ?? {}).join()}`);
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    return m.Attributes?.ApproximateReceiveCount;
  }

  it('maxReceiveCount receives, then the DLQ (attributes kept); amqplib sees x-death there', TEST_OPTS, async () => {
    const { dlq, sourceUrl, dlqUrl } = await pair(2);
    await sqs().send(new SendMessageCommand({ QueueUrl: sourceUrl, MessageBody: 'poison', MessageAttributes: { kind: { DataType: 'String', StringValue: 'bad' } } }));
    assert.equal(await receiveAndFail(sourceUrl), '1');
    assert.equal(await receiveAndFail(sourceUrl), '2');
    // Received twice and not deleted: the next receive finds it in the DLQ, not here.
    assert.equal(await receiveAndFail(sourceUrl), undefined);
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 5, MessageAttributeNames: ['All'], VisibilityTimeout: 0 }));
    assert.equal(got.Messages?.[0]?.Body, 'poison');
    assert.deepEqual(got.Messages?.[0]?.MessageAttributes, { kind: { DataType: 'String', StringValue: 'bad' } });

    const ch = await ctx.clients.channel();
    await waitUntil(async () => (await ch.checkQueue(dlq)).messageCount === 1, 'the DLQ message visible again');
    const amqp = await ch.get(dlq, { noAck: true });
    assert.ok(amqp);
    assert.equal(amqp.content.toString(), 'poison');
    const death = (amqp.properties.headers?.['x-death'] as Record<string, unknown>[] | undefined)?.[0];
    assert.equal(death?.reason, 'delivery_limit');
    assert.equal(death?.queue, sourceUrl.split('/').pop());
  });

  it('maxReceiveCount 1: one receive, then the DLQ; a deleted message never goes there', TEST_OPTS, async () => {
    const { sourceUrl, dlqUrl } = await pair(1);
    await sqs().send(new SendMessageBatchCommand({ QueueUrl: sourceUrl, Entries: [{ Id: 'a', MessageBody: 'fails' }] }));
    assert.equal(await receiveAndFail(sourceUrl), '1');
    const dlqAttrs = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    assert.equal(dlqAttrs.Attributes?.ApproximateNumberOfMessages, '1');
    const src = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: sourceUrl, AttributeNames: ['ApproximateNumberOfMessages', 'RedrivePolicy'] }));
    assert.equal(src.Attributes?.ApproximateNumberOfMessages, '0');
    assert.deepEqual(JSON.parse(src.Attributes?.RedrivePolicy ?? ''), { deadLetterTargetArn: arn(dlqUrl.split('/').pop() ?? ''), maxReceiveCount: 1 });
    // Removing the policy: messages come back however often they are received.
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl: sourceUrl, Attributes: { RedrivePolicy: '' } }));
    await sqs().send(new SendMessageCommand({ QueueUrl: sourceUrl, MessageBody: 'stays' }));
    assert.equal(await receiveAndFail(sourceUrl), '1');
    assert.equal(await receiveAndFail(sourceUrl), '2');
    const gone = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: sourceUrl, AttributeNames: ['All'] }));
    assert.equal(gone.Attributes?.RedrivePolicy, undefined);
  });

  it('validates RedrivePolicy with AWS texts and enforces the DLQ\'s RedriveAllowPolicy', TEST_OPTS, async () => {
    const dlq = qname('sqs-dlq-allow');
    const { QueueUrl: dlqUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: dlq, Attributes: { RedriveAllowPolicy: '{"redrivePermission":"denyAll"}' } }));
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: qname('sqs-src-allow') }));
    const source = QueueUrl.split('/').pop() ?? '';
    const set = (policy: string): Promise<{ name: string; message: string }> => failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { RedrivePolicy: policy } })));
    const missing = JSON.stringify({ deadLetterTargetArn: arn('no-such-queue'), maxReceiveCount: 3 });
    assert.deepEqual(await set(missing), { name: 'InvalidParameterValue', message: `Value ${missing} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.` });
    const zero = JSON.stringify({ deadLetterTargetArn: arn(dlq), maxReceiveCount: 0 });
    assert.deepEqual(await set(zero), { name: 'InvalidParameterValue', message: `Value ${zero} for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive.` });
    assert.equal((await set('{"maxReceiveCount":3}')).message, 'Value {"maxReceiveCount":3} for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.');
    assert.equal((await set('{}')).message, 'Value {} for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: maxReceiveCount.');
    assert.deepEqual(await set('nope'), { name: 'InvalidAttributeValue', message: 'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.' });
    const sns = JSON.stringify({ deadLetterTargetArn: 'arn:aws:sns:us-east-1:000000000000:topic', maxReceiveCount: 5 });
    assert.equal((await set(sns)).message, `Value ${sns} for parameter RedrivePolicy is invalid. Reason: Only SQS queues are valid resources for deadLetterTargetArn.`);
    const extra = JSON.stringify({ deadLetterTargetArn: arn(dlq), maxReceiveCount: 5, colour: 'red' });
    assert.equal((await set(extra)).message, `Value ${extra} for parameter RedrivePolicy is invalid. Reason: Only following attributes are supported: [maxReceiveCount, deadLetterTargetArn].`);
    const fifo = JSON.stringify({ deadLetterTargetArn: arn('some.fifo'), maxReceiveCount: 5 });
    assert.equal((await set(fifo)).message, `Value ${fifo} for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source..`);
    const ok = JSON.stringify({ deadLetterTargetArn: arn(dlq), maxReceiveCount: '4' });
    const denied = await set(ok);
    assert.equal(denied.name, 'InvalidParameterValue');
    assert.match(denied.message, /does not allow this queue to use it as a dead-letter queue/);
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl: dlqUrl, Attributes: { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: [arn(source)] }) } }));
    assert.equal((await set(ok)).name, 'no error');
    const allow = (policy: string): Promise<{ name: string; message: string }> => failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl: dlqUrl, Attributes: { RedriveAllowPolicy: policy } })));
    assert.deepEqual(await allow('{"redrivePermission":"byQueue"}'), {
      name: 'InvalidParameterValue',
      message: 'Value {"redrivePermission":"byQueue"} for parameter RedriveAllowPolicy is invalid. Reason: Amazon SQS can\'t create the redrive allow policy. When you specify the byQueue permission type, you must also specify one or more sourceQueueArns values.',
    });
    const withArns = JSON.stringify({ redrivePermission: 'allowAll', sourceQueueArns: [arn(source)] });
    assert.equal((await allow(withArns)).message, `Value ${withArns} for parameter RedriveAllowPolicy is invalid. Reason: Amazon SQS can't create the redrive allow policy. To specify one or more source queue ARNs, you must set redrivePermission to byQueue.`);
    const eleven = JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: Array.from({ length: 11 }, (_, i) => arn(`q${i}`)) });
    assert.equal((await allow(eleven)).message, `Value ${eleven} for parameter RedriveAllowPolicy is invalid. Reason: Amazon SQS can't create the redrive allow policy. The maximum number of source queue ARNs you can specify is 10.`);
    assert.deepEqual(await allow('{"redrivePermission":"sometimes"}'), { name: 'InvalidAttributeValue', message: 'Invalid value for the parameter RedriveAllowPolicy. Reason: Amazon SQS can\'t create the redrive allow policy, as it\u2019s in an unsupported format.' });
    // Stored as given.
    const stored = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['RedriveAllowPolicy'] }));
    assert.deepEqual(JSON.parse(stored.Attributes?.RedriveAllowPolicy ?? ''), { redrivePermission: 'byQueue', sourceQueueArns: [arn(source)] });
  });

  it('ListDeadLetterSourceQueues pages through the queues redriving to a DLQ', TEST_OPTS, async () => {
    const dlq = qname('sqs-dlq-list');
    const { QueueUrl: dlqUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: dlq }));
    const sources: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: `${dlq}-src${i}`, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(dlq), maxReceiveCount: 5 }) } }));
      sources.push(QueueUrl);
    }
    const all = await sqs().send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl }));
    assert.deepEqual(all.queueUrls, sources);
    const first = await sqs().send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl, MaxResults: 2 }));
    assert.deepEqual(first.queueUrls, sources.slice(0, 2));
    assert.ok(first.NextToken);
    const second = await sqs().send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl, MaxResults: 2, NextToken: first.NextToken }));
    assert.deepEqual(second.queueUrls, sources.slice(2));
    assert.equal(second.NextToken, undefined);
  });

  it('a move task redrives the DLQ back to the source queues; statuses as AWS; errors', TEST_OPTS, async () => {
    const { source, dlq, sourceUrl, dlqUrl } = await pair(1);
    await sqs().send(new SendMessageBatchCommand({ QueueUrl: sourceUrl, Entries: [{ Id: 'a', MessageBody: 'm1' }, { Id: 'b', MessageBody: 'm2' }, { Id: 'c', MessageBody: 'm3' }] }));
    for (let i = 0; i < 3; i++) assert.equal(await receiveAndFail(sourceUrl), '1');
    const count = async (QueueUrl: string): Promise<string | undefined> =>
      (await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.ApproximateNumberOfMessages;
    assert.equal(await count(dlqUrl), '3');

    assert.equal((await failure(sqs().send(new StartMessageMoveTaskCommand({ SourceArn: arn(source) })))).message, 'Source queue must be configured as a Dead Letter Queue.');
    assert.equal((await failure(sqs().send(new StartMessageMoveTaskCommand({ SourceArn: arn('missing-q') })))).name, 'ResourceNotFoundException');
    assert.equal((await failure(sqs().send(new StartMessageMoveTaskCommand({ SourceArn: arn(dlq), MaxNumberOfMessagesPerSecond: 501 })))).name, 'InvalidParameterValue');

    const { TaskHandle } = await sqs().send(new StartMessageMoveTaskCommand({ SourceArn: arn(dlq) }));
    assert.ok(TaskHandle);
    let task: ListMessageMoveTasksResultEntry | undefined;
    await waitUntil(async () => {
      task = (await sqs().send(new ListMessageMoveTasksCommand({ SourceArn: arn(dlq) }))).Results?.[0];
      return task?.Status !== 'RUNNING';
    }, 'the move task to finish');
    assert.equal(task?.Status, 'COMPLETED');
    assert.equal(task?.ApproximateNumberOfMessagesMoved, 3);
    assert.equal(task?.SourceArn, arn(dlq));
    assert.equal(task?.TaskHandle, undefined);
    assert.equal(await count(dlqUrl), '0');
    const back = await sqs().send(new ReceiveMessageCommand({ QueueUrl: sourceUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['ApproximateReceiveCount'], VisibilityTimeout: 60 }));
    assert.deepEqual(back.Messages?.map((m) => m.Body).sort(), ['m1', 'm2', 'm3']);
    // A fresh start in the source: its receive count starts again.
    assert.deepEqual(back.Messages?.map((m) => m.Attributes?.ApproximateReceiveCount), ['1', '1', '1']);
  });

  it('a rate-limited move task to a DestinationArn can be cancelled', TEST_OPTS, async () => {
    const { dlq, dlqUrl } = await pair(3);
    const { QueueUrl: otherUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: qname('sqs-move-dest') }));
    const other = otherUrl.split('/').pop() ?? '';
    await sqs().send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `b${i}` })) }));
    const { TaskHandle } = await sqs().send(new StartMessageMoveTaskCommand({ SourceArn: arn(dlq), DestinationArn: arn(other), MaxNumberOfMessagesPerSecond: 1 }));
    const running = (await sqs().send(new ListMessageMoveTasksCommand({ SourceArn: arn(dlq), MaxResults: 10 }))).Results?.[0];
    assert.equal(running?.Status, 'RUNNING');
    assert.equal(running?.TaskHandle, TaskHandle);
    assert.equal(running?.DestinationArn, arn(other));
    assert.equal(running?.MaxNumberOfMessagesPerSecond, 1);
    const again = await failure(sqs().send(new StartMessageMoveTaskCommand({ SourceArn: arn(dlq) })));
    assert.equal(again.message, 'There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
    const cancelled = await sqs().send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    assert.ok((cancelled.ApproximateNumberOfMessagesMoved ?? -1) >= 0);
    let task: ListMessageMoveTasksResultEntry | undefined;
    await waitUntil(async () => {
      task = (await sqs().send(new ListMessageMoveTasksCommand({ SourceArn: arn(dlq) }))).Results?.[0];
      return task?.Status === 'CANCELLED';
    }, 'the move task to be cancelled');
    const moved = task?.ApproximateNumberOfMessagesMoved ?? -1;
    assert.ok(moved >= 1 && moved < 10, `moved ${moved} of 10 before the cancel`);
    const left = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    const arrived = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: otherUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    assert.equal(Number(left.Attributes?.ApproximateNumberOfMessages) + Number(arrived.Attributes?.ApproximateNumberOfMessages), 10);
    assert.equal(Number(arrived.Attributes?.ApproximateNumberOfMessages), moved);
    assert.equal((await failure(sqs().send(new CancelMessageMoveTaskCommand({ TaskHandle })))).name, 'InvalidParameterValue');
    // Not a handle at all (base64 of "no"): AWS's InvalidParameterValue; an unknown task in a well-formed handle is ResourceNotFoundException (sqs-compat).
    assert.equal((await failure(sqs().send(new CancelMessageMoveTaskCommand({ TaskHandle: 'bm8=' })))).name, 'InvalidParameterValue');
  });

  it('an AMQP queue with x-dead-letter-reasons dead-letters only those deaths (expired ones are dropped, as SQS deletes them)', TEST_OPTS, async () => {
    const ch = await ctx.clients.channel();
    const dlq = qname('amqp-dlq');
    const q = qname('amqp-src');
    await ch.assertQueue(dlq, { durable: true });
    await ch.assertQueue(q, { durable: true, arguments: { 'x-message-ttl': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq, 'x-dead-letter-reasons': 'delivery_limit' } });
    ch.sendToQueue(q, Buffer.from('expires'));
    await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 0, 'the message to expire');
    assert.equal((await ch.checkQueue(dlq)).messageCount, 0);
    const bad = await ctx.clients.channel();
    await assert.rejects(bad.assertQueue(qname('amqp-bad'), { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-reasons': 'sometimes' } }), /PRECONDITION_FAILED/);
  });
});
