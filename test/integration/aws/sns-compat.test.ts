// SNS answers checked against real AWS's, as LocalStack's test suite recorded them
// (tests/aws/services/sns/test_sns.snapshot.json and test_sns_filter_policy.snapshot.json,
// recorded against AWS): exact error texts for malformed ARNs, topic names, batch ids,
// tokens, cross-region ARNs, FIFO pairings, filter policies; which attributes appear.
// Each test names the snapshot it follows. Driven through AWS SDK v3.

import {
  ConfirmSubscriptionCommand,
  CreateTopicCommand,
  DeleteTopicCommand,
  GetSubscriptionAttributesCommand,
  GetTopicAttributesCommand,
  ListTagsForResourceCommand,
  PublishBatchCommand,
  PublishCommand,
  SetSubscriptionAttributesCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
  TagResourceCommand,
  UnsubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS } from '../../helpers/async.js';
import { useBroker } from '../../helpers/amqplib.js';
import { awsClientConfig, failureText as failure, safeName, snsClient, sqsArn, sqsClient } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';

describe('SNS matches AWS (LocalStack snapshots)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const endpoint = (): string => `http://127.0.0.1:${ctx.broker.handle.awsPort ?? 0}`;
  const sns = (): SNSClient => snsClient(endpoint());
  const sqs = (): SQSClient => sqsClient(endpoint());
  const bad = (detail: string): string => `InvalidParameterException: Invalid parameter: ${detail}`;

  async function topic(prefix: string, attributes?: Record<string, string>): Promise<string> {
    const fifo = attributes?.FifoTopic === 'true';
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: safeName(prefix) + (fifo ? '.fifo' : ''), Attributes: attributes }));
    return TopicArn ?? '';
  }

  async function queue(prefix: string, fifo = false): Promise<{ url: string; arn: string }> {
    const name = safeName(prefix) + (fifo ? '.fifo' : '');
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : undefined }));
    return { url: QueueUrl ?? '', arn: sqsArn(name) };
  }

  it('topics: names, default attributes, FifoTopic=false, tags (test_create_topic_name_constraints, test_topic_get_attributes_with_fifo_false, test_tags)', TEST_OPTS, async () => {
    for (const [Name, Attributes] of [['', undefined], ['a'.repeat(257), undefined], ['test.fifo', undefined], ['test', { FifoTopic: 'true' }], ['bad:name', undefined], ['bad name', undefined]] as const) {
      assert.equal(await failure(sns().send(new CreateTopicCommand({ Name, Attributes }))), bad('Topic Name'), Name);
    }
    const arn = await topic('compat-std', { FifoTopic: 'false' });
    const attrs = (await sns().send(new GetTopicAttributesCommand({ TopicArn: arn }))).Attributes ?? {};
    assert.deepEqual(Object.keys(attrs).sort(), ['DisplayName', 'EffectiveDeliveryPolicy', 'Owner', 'Policy', 'SubscriptionsConfirmed', 'SubscriptionsDeleted', 'SubscriptionsPending', 'TopicArn']);
    assert.equal(await failure(sns().send(new SetTopicAttributesCommand({ TopicArn: arn, AttributeName: 'FifoTopic', AttributeValue: 'false' }))), bad('AttributeName'));
    await sns().send(new SetTopicAttributesCommand({ TopicArn: arn, AttributeName: 'SignatureVersion', AttributeValue: '2' }));
    assert.equal((await sns().send(new GetTopicAttributesCommand({ TopicArn: arn }))).Attributes?.SignatureVersion, '2');
    const fifo = (await sns().send(new GetTopicAttributesCommand({ TopicArn: await topic('compat-fifo', { FifoTopic: 'true' }) }))).Attributes ?? {};
    assert.equal(fifo.FifoTopic, 'true');
    assert.equal(fifo.ContentBasedDeduplication, 'false');
    assert.equal(
      await failure(sns().send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'k1', Value: 'v1' }, { Key: 'k1', Value: 'v2' }] }))),
      bad('Duplicated keys are not allowed.'),
    );
    await sns().send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'k1', Value: 'v1' }] }));
    await sns().send(new DeleteTopicCommand({ TopicArn: arn }));
    await sns().send(new CreateTopicCommand({ Name: arn.split(':')[5] }));
    assert.deepEqual((await sns().send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags, []);
  });

  it('malformed and cross-region ARNs (test_publish_wrong_arn_format, test_unsubscribe_wrong_arn_format, test_cross_region_access)', TEST_OPTS, async () => {
    const arn = await topic('compat-arn');
    assert.equal(await failure(sns().send(new GetTopicAttributesCommand({ TopicArn: 'randomarn' }))), bad('TopicArn Reason: An ARN must have at least 6 elements, not 1'));
    assert.equal(await failure(sns().send(new PublishCommand({ TopicArn: 'randomstring:1', Message: 'm' }))), bad('TopicArn Reason: An ARN must have at least 6 elements, not 2'));
    assert.equal(await failure(sns().send(new PublishCommand({ TopicArn: '', Message: 'm' }))), bad('TopicArn Reason: An ARN must have at least 6 elements, not 1'));
    assert.equal(
      await failure(sns().send(new SubscribeCommand({ TopicArn: 'arn:aws:sns:us-east-1:random', Protocol: 'sqs', Endpoint: 'x' }))),
      bad('TopicArn Reason: An ARN must have at least 6 elements, not 5'),
    );
    assert.equal(await failure(sns().send(new UnsubscribeCommand({ SubscriptionArn: 'randomstring' }))), bad('SubscriptionArn Reason: An ARN must have at least 6 elements, not 1'));
    assert.equal(await failure(sns().send(new UnsubscribeCommand({ SubscriptionArn: 'arn:aws:sns:us-east-1:111111111111:random' }))), bad('SubscriptionId'));
    assert.equal(
      await failure(sns().send(new PublishCommand({ TargetArn: 'arn:aws:sns:us-east-1:000000000000:endpoint/APNS/abcdef/0f7d5971-aa8b-4bd5-b585-0826e9f93a66', Message: 'm' }))),
      bad('TargetArn Reason: No endpoint found for the target arn specified'),
    );
    const other = new SNSClient({ ...awsClientConfig(endpoint()), region: 'eu-west-1' });
    assert.equal(await failure(other.send(new PublishCommand({ TopicArn: arn, Message: 'm' }))), bad('TopicArn'));
    assert.equal(await failure(other.send(new GetTopicAttributesCommand({ TopicArn: arn }))), bad('TopicArn'));
    assert.equal(await failure(other.send(new DeleteTopicCommand({ TopicArn: arn }))), bad('TopicArn'));
    assert.ok((await sns().send(new PublishCommand({ TopicArn: arn, Message: 'm' }))).MessageId);
  });

  it('PublishBatch: ids, sizes with attributes, a bad entry fails the request (test_publish_batch_invalid_entry_id, test_publish_batch_too_long_message, test_publish_batch_exceptions)', TEST_OPTS, async () => {
    const arn = await topic('compat-batch');
    const send = (entries: { Id: string; Message: string; MessageAttributes?: Record<string, { DataType: string; StringValue: string }> }[], TopicArn = arn): Promise<string> =>
      failure(sns().send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: entries })));
    assert.equal(await send([{ Id: 'message.id', Message: 'm' }]), 'InvalidBatchEntryIdException: The Id of a batch entry in the batch request contains an impermissible character: message.id');
    assert.equal(await send([{ Id: 'a'.repeat(81), Message: 'm' }]), `InvalidBatchEntryIdException: The Id of a batch entry in the batch request is too long: ${'a'.repeat(81)}`);
    const attrs = { attr1: { DataType: 'Number', StringValue: '1' } };
    const full = 'a'.repeat(262144 - 'attr1Number1'.length);
    assert.equal(
      await send([{ Id: '1', Message: full, MessageAttributes: attrs }, { Id: '2', Message: 'b' }]),
      'BatchRequestTooLongException: The length of all the messages put together is more than the limit.',
    );
    const fifo = await topic('compat-batch', { FifoTopic: 'true' });
    assert.equal(await send([{ Id: '1', Message: 'no group' }], fifo), bad('The MessageGroupId parameter is required for FIFO topics'));
    const ok = await sns().send(new PublishBatchCommand({ TopicArn: arn, PublishBatchRequestEntries: [{ Id: '1', Message: full, MessageAttributes: attrs }] }));
    assert.deepEqual([ok.Successful?.map((s) => s.Id), ok.Failed], [['1'], []]);
  });

  it('subscriptions: texts of Subscribe and SetSubscriptionAttributes, tokens, FIFO pairings (test_validate_set_sub_attributes, test_sns_confirm_subscription_wrong_token, test_validations_for_fifo)', TEST_OPTS, async () => {
    const arn = await topic('compat-sub');
    const q = await queue('compat-sub-q');
    assert.equal(
      await failure(sns().send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: q.arn, Attributes: { RawMessageDelivery: 'wrongvalue' } }))),
      bad('Attributes Reason: RawMessageDelivery: Invalid value [wrongvalue]. Must be true or false.'),
    );
    const { SubscriptionArn } = await sns().send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: q.arn, ReturnSubscriptionArn: true }));
    const set = (AttributeName: string, AttributeValue: string): Promise<string> => failure(sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName, AttributeValue })));
    assert.equal(await set('RawMessageDelivery', 'test-ValUe'), bad('RawMessageDelivery: Invalid value [test-ValUe]. Must be true or false.'));
    assert.equal(await set('RawMessageDelivery', ''), bad('RawMessageDelivery: Invalid value []. Must be true or false.'));
    await set('FilterPolicyScope', 'MessageBody');
    assert.equal((await sns().send(new GetSubscriptionAttributesCommand({ SubscriptionArn }))).Attributes?.FilterPolicyScope, undefined, 'a scope alone is not shown');
    await set('FilterPolicy', JSON.stringify({ attr: ['match-this'] }));
    assert.equal((await sns().send(new GetSubscriptionAttributesCommand({ SubscriptionArn }))).Attributes?.FilterPolicyScope, 'MessageBody');

    const token = 'ab'.repeat(40);
    assert.equal(await failure(sns().send(new ConfirmSubscriptionCommand({ TopicArn: arn, Token: 'randomtoken' }))), 'InvalidParameterException: Invalid token');
    assert.equal(await failure(sns().send(new ConfirmSubscriptionCommand({ TopicArn: arn, Token: token }))), bad('Token'));
    assert.equal(await failure(sns().send(new ConfirmSubscriptionCommand({ TopicArn: `${arn}-gone`, Token: token }))), bad('Token'));

    // The SubscribeURL's unsigned GET with a broken TopicArn (test_subscribe_external_http_endpoint).
    const link = await fetch(`${endpoint()}/?Action=ConfirmSubscription&TopicArn=not-an-arn&Token=${token}`);
    assert.equal(link.status, 400);
    assert.match(await link.text(), /<Code>InvalidParameter<\/Code><Message>Invalid parameter: Topic<\/Message>/);

    const fifoTopic = await topic('compat-sub', { FifoTopic: 'true' });
    const fifoQueue = await queue('compat-sub-q', true);
    assert.equal(
      await failure(sns().send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: fifoQueue.arn }))),
      bad('Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics'),
    );
    const fifoSub = await sns().send(new SubscribeCommand({ TopicArn: fifoTopic, Protocol: 'sqs', Endpoint: fifoQueue.arn, ReturnSubscriptionArn: true }));
    assert.equal(
      await failure(sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn: fifoSub.SubscriptionArn, AttributeName: 'RedrivePolicy', AttributeValue: JSON.stringify({ deadLetterTargetArn: q.arn }) }))),
      bad('RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic.'),
    );
  });

  it('filter policies: Subscribe says "Attributes Reason:", the form before the scope (test_validate_policy*, test_sub_filter_policy_nested_property)', TEST_OPTS, async () => {
    const arn = await topic('compat-filter');
    const q = await queue('compat-filter-q');
    const subscribe = (policy: object): Promise<string> =>
      failure(sns().send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: q.arn, Attributes: { FilterPolicy: JSON.stringify(policy) } })));
    assert.match(await subscribe({ key: [] }), /^InvalidParameterException: Invalid parameter: Attributes Reason: FilterPolicy: Empty arrays are not allowed/);
    assert.match(await subscribe({ key: { suffix: 'value' } }), /^InvalidParameterException: Invalid parameter: Attributes Reason: FilterPolicy: "suffix" must be an object or an array/);
    assert.equal(await subscribe({ object: { key: [{ prefix: 'auto-' }] } }), bad('Filter policy scope MessageAttributes does not support nested filter policy'));
    // AWS appends its JSON parser's location in the compact policy (the column one past the parser's position).
    const located: [object, string][] = [
      [{ key: [['value']] }, 'Match value must be String, number, true, false, or null\n at [Source: (String)"{"key":[["value"]]}"; line: 1, column: 10]'],
      [{ key: [{ 'wrong-operator': true }] }, 'Unrecognized match type wrong-operator\n at [Source: (String)"{"key":[{"wrong-operator":true}]}"; line: 1, column: 31]'],
      [{ key: [{ numeric: ['>=', 1, '>', 2] }] }, 'Bad numeric range operator: >\n at [Source: (String)"{"key":[{"numeric":[">=",1,">",2]}]}"; line: 1, column: 31]'],
      [{ key: [{ numeric: ['>', 3, '<', 1] }] }, 'Bottom must be less than top\n at [Source: (String)"{"key":[{"numeric":[">",3,"<",1]}]}"; line: 1, column: 33]'],
      [{ key: [{ 'anything-but': { suffix: 'test' } }] }, 'Unsupported anything-but pattern: suffix\n at [Source: (String)"{"key":[{"anything-but":{"suffix":"test"}}]}"; line: 1, column: 36]'],
    ];
    for (const [policy, text] of located) assert.equal(await subscribe(policy), bad(`Attributes Reason: FilterPolicy: ${text}`));
    const { SubscriptionArn } = await sns().send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: q.arn, ReturnSubscriptionArn: true }));
    assert.equal(
      await failure(sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: JSON.stringify({ key_a: 'value_one' }) }))),
      bad('FilterPolicy: "key_a" must be an object or an array\n at [Source: (String)"{"key_a":"value_one"}"; line: 1, column: 11]'),
    );
  });

  it('message attributes: names, types and fields with AWS texts (test_empty_or_wrong_message_attributes, test_message_attributes_prefixes)', TEST_OPTS, async () => {
    const arn = await topic('compat-attrs');
    const publish = (MessageAttributes: Record<string, { DataType: string; StringValue?: string; BinaryValue?: Uint8Array }>): Promise<string> =>
      failure(sns().send(new PublishCommand({ TopicArn: arn, Message: 'm', MessageAttributes })));
    // SDK v3 names the ParameterValueInvalid code InvalidParameterValueException.
    const invalid = (text: string): string => `InvalidParameterValueException: ${text}`;
    assert.equal(await publish({ attr1: { DataType: 'String', BinaryValue: Buffer.from('123') } }), invalid("The message attribute 'attr1' with type 'String' must use field 'String'."));
    assert.equal(await publish({ attr1: { DataType: 'Number', BinaryValue: Buffer.from('123') } }), invalid("The message attribute 'attr1' with type 'Number' must use field 'String'."));
    assert.equal(await publish({ attr1: { DataType: 'Binary', StringValue: '123' } }), invalid("The message attribute 'attr1' with type 'Binary' must use field 'Binary'."));
    assert.equal(await publish({ ['a'.repeat(257)]: { DataType: 'String', StringValue: '1' } }), invalid('Length of message attribute name must be less than 256 bytes.'));
    assert.equal(
      await publish({ 'a^*?': { DataType: 'String', StringValue: '1' } }),
      invalid("Invalid non-alphanumeric character '#x5E' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots."),
    );
    assert.equal(await publish({ '.abc': { DataType: 'String', StringValue: '1' } }), invalid("Invalid message attribute name starting with character '.' was found."));
    assert.equal(await publish({ 'abc.': { DataType: 'String', StringValue: '1' } }), invalid("Invalid message attribute name ending with character '.' was found."));
    assert.equal(await publish({ 'a..bc': { DataType: 'String', StringValue: '1' } }), invalid("Message attribute name can not have successive '.' character."));
    const prefixes = 'The message attribute \'attr1\' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.';
    assert.equal(await publish({ attr1: { DataType: 'String.', StringValue: 'p' } }), invalid(prefixes));
    assert.equal(await publish({ attr1: { DataType: 'Stringprefixed', StringValue: 'p' } }), invalid(prefixes));
    assert.equal(await publish({ attr1: { DataType: 'String.  prefixed.', StringValue: 'p' } }), 'no error');
  });

  it('a standard topic passes MessageGroupId to its SQS copies (test_publish_message_group_id)', TEST_OPTS, async () => {
    const arn = await topic('compat-group');
    const q = await queue('compat-group-q');
    await sns().send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: q.arn }));
    await sns().send(new PublishCommand({ TopicArn: arn, Message: 'grouped', MessageGroupId: 'my-group-id-1' }));
    const r = await sqs().send(new ReceiveMessageCommand({ QueueUrl: q.url, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 5 }));
    assert.equal(r.Messages?.[0]?.Attributes?.MessageGroupId, 'my-group-id-1');
    assert.equal(JSON.parse(r.Messages?.[0]?.Body ?? '{}').Message, 'grouped');
  });
});
