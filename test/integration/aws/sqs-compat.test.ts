// SQS answers compared with real AWS's, as LocalStack's test suite recorded them against
// AWS (tests/aws/services/sqs/test_sqs.snapshot.json): error codes on both wire
// protocols (AWS JSON's __type and x-amzn-query-error, the query protocol's code and
// message), AWS's texts for ReceiveMessage's limits, PurgeQueue's one-a-minute rule,
// FIFO attributes on standard queues, MessageGroupId on standard queues, and
// SendMessageBatch's size rules and whole-request FIFO failures. Through AWS SDK v3.

import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { TEST_OPTS } from '../../helpers/async.js';
import { useBroker } from '../../helpers/amqplib.js';
import { failure, safeName, sqsArn, sqsClient, sqsQueryClient } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';

/** A rejected call as AWS JSON carried it: the SDK's name (its modelled error, else x-amzn-query-error's code), __type, message, HTTP status. */
async function jsonError(p: Promise<unknown>): Promise<{ name: string; type: string; message: string; status: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; __type?: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, type: e.__type ?? '', message: e.message, status: e.$metadata?.httpStatusCode ?? 0 };
  }
  return { name: 'no error', type: '', message: '', status: 0 };
}

/** The MD5 of one String system attribute named AWSTraceHeader, as SQS computes attribute MD5s (length-prefixed name, type, 1, value). */
function md5OfTrace(value: string): string {
  const part = (b: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(b.length);
    return Buffer.concat([length, b]);
  };
  return createHash('md5').update(Buffer.concat([part(Buffer.from('AWSTraceHeader')), part(Buffer.from('String')), Buffer.from([1]), part(Buffer.from(value))])).digest('hex');
}

const GROUP_REASON = 'Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.';

describe('SQS as AWS answers (LocalStack snapshots of AWS)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const sqs = (): SQSClient => sqsClient(ctx.broker.handle.awsPort ?? 0);
  const create = async (prefix: string, Attributes?: Record<string, string>): Promise<string> =>
    (await sqs().send(new CreateQueueCommand({ QueueName: safeName(prefix), Attributes }))).QueueUrl ?? '';

  it("AWS JSON: InvalidParameterValueException and MissingRequiredParameterException as __type, the query code as the SDK's name; ReceiveMessage's texts", TEST_OPTS, async () => {
    const QueueUrl = await create('compat-json');
    assert.deepEqual(await jsonError(sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 }))), {
      name: 'InvalidParameterValue',
      type: 'com.amazonaws.sqs#InvalidParameterValueException',
      message: 'Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.',
      status: 400,
    });
    for (const wait of [21, -1]) {
      const e = await jsonError(sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: wait })));
      assert.equal(e.message, `Value ${wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`);
    }
    assert.deepEqual(await jsonError(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: '' }))), {
      name: 'MissingParameter',
      type: 'com.amazonaws.sqs#MissingRequiredParameterException',
      message: 'The request must contain the parameter MessageBody.',
      status: 400,
    });
    const attr = await failure(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'x', MessageAttributes: { ErrorDetails: { DataType: 'String', StringValue: '' } } })));
    assert.deepEqual(attr, { name: 'InvalidParameterValue', message: "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'." });
    // Codes AWS JSON names as the query protocol does keep their __type.
    const gone = await jsonError(sqs().send(new GetQueueAttributesCommand({ QueueUrl: `${QueueUrl}-gone` })));
    assert.deepEqual(gone, { name: 'QueueDoesNotExist', type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.', status: 400 });
  });

  it('the query protocol says a queue does not exist "for this wsdl version"', TEST_OPTS, async () => {
    const query = sqsQueryClient(ctx.broker.handle.awsPort ?? 0);
    const QueueUrl = await create('compat-query');
    const e = await failure(query.send(new GetQueueAttributesCommand({ QueueUrl: `${QueueUrl}-gone` })));
    assert.equal(e.message, 'The specified queue does not exist for this wsdl version.');
    const bad = await failure(query.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 })));
    assert.equal(bad.message, 'Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.');
  });

  it('ChangeMessageVisibility with a handle whose lease has ended succeeds (AWS: 200)', TEST_OPTS, async () => {
    const QueueUrl = await create('compat-visibility');
    await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'test' }));
    const { Messages = [] } = await sqs().send(new ReceiveMessageCommand({ QueueUrl }));
    const ReceiptHandle = Messages[0]?.ReceiptHandle ?? '';
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout: 0 }));
    const again = await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout: 2 }));
    assert.equal(again.$metadata.httpStatusCode, 200);
  });

  it('PurgeQueue: a second within 60 seconds is PurgeQueueInProgress (403)', TEST_OPTS, async () => {
    const name = safeName('compat-purge');
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: name }));
    await sqs().send(new PurgeQueueCommand({ QueueUrl }));
    assert.deepEqual(await jsonError(sqs().send(new PurgeQueueCommand({ QueueUrl }))), {
      name: 'PurgeQueueInProgress',
      type: 'com.amazonaws.sqs#PurgeQueueInProgress',
      message: `Only one PurgeQueue operation on ${name} is allowed every 60 seconds.`,
      status: 403,
    });
  });

  it('standard queues: FIFO attributes with AWS texts; MessageGroupId checked (fair queues); one kind of SSE', TEST_OPTS, async () => {
    const name = safeName('compat-std');
    const createWith = (Attributes: Record<string, string>): Promise<unknown> => sqs().send(new CreateQueueCommand({ QueueName: name, Attributes }));
    assert.deepEqual(await failure(createWith({ FifoQueue: 'false' })), { name: 'InvalidAttributeName', message: 'Unknown Attribute FifoQueue.' });
    assert.deepEqual(await failure(createWith({ ContentBasedDeduplication: 'false' })), { name: 'InvalidAttributeName', message: 'Unknown Attribute ContentBasedDeduplication.' });
    assert.deepEqual(await failure(createWith({ DeduplicationScope: 'queue' })), {
      name: 'InvalidAttributeName',
      message: 'You can specify the DeduplicationScope only when FifoQueue is set to true.',
    });
    assert.deepEqual(await failure(createWith({ FifoThroughputLimit: 'perQueue' })), {
      name: 'InvalidAttributeName',
      message: 'You can specify the FifoThroughputLimit only when FifoQueue is set to true.',
    });
    const QueueUrl = await create('compat-std-ok');
    assert.deepEqual(await failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { FifoQueue: 'true' } }))), { name: 'InvalidAttributeName', message: 'Unknown Attribute FifoQueue.' });
    for (const group of ['', 'a'.repeat(129), 'group 123']) {
      const e = await failure(sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'message', MessageGroupId: group })));
      assert.deepEqual(e, { name: 'InvalidParameterValue', message: `Value ${group} for parameter MessageGroupId is invalid. ${GROUP_REASON}` });
    }
    const sent = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'message', MessageGroupId: 'test' }));
    assert.match(sent.MessageId ?? '', /^[0-9a-f-]{36}$/);
    const sse = await failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { KmsMasterKeyId: 'testKeyId', SqsManagedSseEnabled: 'true' } })));
    assert.deepEqual(sse, { name: 'InvalidAttributeName', message: 'You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.' });
  });

  it('AWSTraceHeader: sent as a system attribute (its MD5 in the reply), received as one; KMS reuse period shown only with a key', TEST_OPTS, async () => {
    const QueueUrl = await create('compat-trace');
    const header = 'Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1';
    const sent = await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'test', MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: header } } }));
    assert.equal(sent.MD5OfMessageSystemAttributes, md5OfTrace(header));
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['AWSTraceHeader', 'SentTimestamp'], MessageAttributeNames: ['All'] }));
    const m = got.Messages?.[0];
    assert.deepEqual(Object.keys(m?.Attributes ?? {}).sort(), ['AWSTraceHeader', 'SentTimestamp']);
    assert.equal(m?.Attributes?.AWSTraceHeader, header);
    assert.equal(m?.MessageAttributes, undefined, 'the trace header is no message attribute');

    await sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { KmsMasterKeyId: 'testKeyId', KmsDataKeyReusePeriodSeconds: '6000' } }));
    const keyed = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
    assert.deepEqual([keyed.KmsMasterKeyId, keyed.KmsDataKeyReusePeriodSeconds, keyed.SqsManagedSseEnabled], ['testKeyId', '6000', 'false']);
    await sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { KmsMasterKeyId: '', KmsDataKeyReusePeriodSeconds: '300' } }));
    const back = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
    assert.deepEqual([back.KmsMasterKeyId, back.KmsDataKeyReusePeriodSeconds, back.SqsManagedSseEnabled], [undefined, undefined, 'false']);
  });

  it('a dead-lettered message carries DeadLetterQueueSourceArn among its system attributes', TEST_OPTS, async () => {
    const dlqName = safeName('compat-dlq');
    const dlq = (await sqs().send(new CreateQueueCommand({ QueueName: dlqName }))).QueueUrl ?? '';
    const sourceName = safeName('compat-src');
    const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: sqsArn(dlqName), maxReceiveCount: 1 });
    const source = (await sqs().send(new CreateQueueCommand({ QueueName: sourceName, Attributes: { RedrivePolicy } }))).QueueUrl ?? '';
    await sqs().send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'message-1' }));
    const first = await sqs().send(new ReceiveMessageCommand({ QueueUrl: source, VisibilityTimeout: 0, MessageSystemAttributeNames: ['All'] }));
    assert.equal(first.Messages?.[0].Attributes?.DeadLetterQueueSourceArn, undefined, 'not dead-lettered yet');
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['All'] }));
    assert.equal(got.Messages?.[0].Body, 'message-1');
    assert.equal(got.Messages?.[0].Attributes?.DeadLetterQueueSourceArn, sqsArn(sourceName));
  });

  it("message move tasks: AWS's texts for a bad handle, a handle's missing source, an unknown task, a missing destination", TEST_OPTS, async () => {
    const handle = (taskId: string, sourceArn: string): string => Buffer.from(JSON.stringify({ taskId, sourceArn })).toString('base64');
    assert.deepEqual(await failure(sqs().send(new CancelMessageMoveTaskCommand({ TaskHandle: 'foobared' }))), { name: 'InvalidParameterValue', message: 'Value for parameter TaskHandle is invalid.' });
    const missing = await jsonError(sqs().send(new CancelMessageMoveTaskCommand({ TaskHandle: handle('10f57157-fc38-4da9-a113-4de7e12d05dd', sqsArn(safeName('compat-none'))) })));
    assert.deepEqual(missing, {
      name: 'ResourceNotFoundException',
      type: 'com.amazonaws.sqs#ResourceNotFoundException',
      message: "The resource that you specified for the SourceArn parameter doesn't exist.",
      status: 404,
    });
    const dlqName = safeName('compat-move-dlq');
    await sqs().send(new CreateQueueCommand({ QueueName: dlqName }));
    const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: sqsArn(dlqName), maxReceiveCount: 1 });
    await create('compat-move-src', { RedrivePolicy });
    const unknown = await failure(sqs().send(new CancelMessageMoveTaskCommand({ TaskHandle: handle('10f57157-fc38-4da9-a113-4de7e12d05aa', sqsArn(dlqName)) })));
    assert.deepEqual(unknown, { name: 'ResourceNotFoundException', message: 'Task does not exist.' });
    const noDestination = await failure(sqs().send(new StartMessageMoveTaskCommand({ SourceArn: sqsArn(dlqName), DestinationArn: sqsArn(safeName('compat-nowhere')) })));
    assert.deepEqual(noDestination, { name: 'ResourceNotFoundException', message: "The resource that you specified for the DestinationArn parameter doesn't exist." });
  });

  it("SendMessageBatch: 1 MiB in all whatever the queue's maximum, which fails an entry on its own, with AWS's texts", TEST_OPTS, async () => {
    const small = await create('compat-batch-small', { MaximumMessageSize: '1024' });
    const out = await sqs().send(new SendMessageBatchCommand({ QueueUrl: small, Entries: [{ Id: 'a', MessageBody: 'a'.repeat(1024) }, { Id: 'b', MessageBody: 'a'.repeat(1025) }] }));
    assert.deepEqual(out.Successful?.map((s) => s.Id), ['a']);
    assert.deepEqual(out.Failed, [{ Id: 'b', Code: 'InvalidParameterValue', Message: 'One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes.', SenderFault: true }]);

    // AWS counts bodies and attributes (name, type, value) against the batch's 1 MiB.
    const attributes = { k: { DataType: 'String', StringValue: 'x' } };
    const roomy = await create('compat-batch-2k', { MaximumMessageSize: '2048' });
    const fits = await sqs().send(new SendMessageBatchCommand({ QueueUrl: roomy, Entries: [{ Id: '1', MessageBody: 'a'.repeat(2048 - 8), MessageAttributes: attributes }, { Id: '2', MessageBody: 'a' }] }));
    assert.deepEqual(fits.Successful?.map((s) => s.Id), ['1', '2']);
    const QueueUrl = await create('compat-batch-big');
    const tooLong = await jsonError(sqs().send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: '1', MessageBody: 'a'.repeat(1_048_576 - 8), MessageAttributes: attributes }, { Id: '2', MessageBody: 'a' }] })));
    assert.deepEqual(tooLong, {
      name: 'BatchRequestTooLong',
      type: 'com.amazonaws.sqs#BatchRequestTooLong',
      message: 'Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.',
      status: 400,
    });
  });

  it('FIFO SendMessageBatch: an entry without MessageGroupId or de-duplication id fails the whole request; FifoQueue=false is refused', TEST_OPTS, async () => {
    const QueueUrl = (await sqs().send(new CreateQueueCommand({ QueueName: `${safeName('compat-fifo')}.fifo`, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } }))).QueueUrl ?? '';
    const good = { Id: 'a', MessageBody: 'messageBody', MessageGroupId: 'test-group', MessageDeduplicationId: 'dedup-1' };
    const noGroup = await failure(sqs().send(new SendMessageBatchCommand({ QueueUrl, Entries: [good, { Id: 'b', MessageBody: 'messageBody', MessageDeduplicationId: 'dedup-2' }] })));
    assert.deepEqual(noGroup, { name: 'InvalidParameterValue', message: 'The request must contain the parameter MessageGroupId.' });
    const noDedup = await failure(sqs().send(new SendMessageBatchCommand({ QueueUrl, Entries: [good, { Id: 'b', MessageBody: 'messageBody', MessageGroupId: 'test-group' }] })));
    assert.deepEqual(noDedup, { name: 'InvalidParameterValue', message: 'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly' });
    const { Attributes = {} } = await sqs().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    assert.equal(Attributes.ApproximateNumberOfMessages, '0', 'nothing of a refused batch was sent');
    const delayed = (await sqs().send(new CreateQueueCommand({ QueueName: `${safeName('compat-fifo-delay')}.fifo`, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true', DelaySeconds: '600' } }))).QueueUrl ?? '';
    await sqs().send(new SendMessageCommand({ QueueUrl: delayed, MessageBody: 'message-1', MessageGroupId: '1', DelaySeconds: 0 }));
    const held = (await sqs().send(new GetQueueAttributesCommand({ QueueUrl: delayed, AttributeNames: ['ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessages'] }))).Attributes ?? {};
    assert.deepEqual([held.ApproximateNumberOfMessagesDelayed, held.ApproximateNumberOfMessages], ['1', '0'], "DelaySeconds 0 on a FIFO queue means the queue's delay");
    const flag = await failure(sqs().send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { FifoQueue: 'false' } })));
    assert.deepEqual(flag, { name: 'InvalidAttributeValue', message: 'Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.' });
  });
});
