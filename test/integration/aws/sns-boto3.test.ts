// SNS through boto3 and the AWS CLI (Debian's python3-boto3 and awscli, both the
// AWS query protocol): topics, an SQS subscription with a filter, Publish with every
// attribute type, PublishBatch, and SNS's error codes as botocore reads them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS } from '../../helpers/async.js';
import { safeName } from '../../helpers/aws.js';
import { awsCli, boto3 } from '../../helpers/aws-query.js';
import { useBroker } from '../../helpers/amqplib.js';
import { skipUnderReference } from '../../helpers/broker.js';

const SCRIPT = `
import base64, json, sys, boto3, botocore
endpoint, name = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
sns, sqs = boto3.client('sns', **kw), boto3.client('sqs', **kw)
out = {}
arn = sns.create_topic(Name=name, Attributes={'DisplayName': 'boto'})['TopicArn']
out['arn'] = arn
url = sqs.create_queue(QueueName=name + '-q')['QueueUrl']
qarn = 'arn:aws:sqs:us-east-1:000000000000:' + name + '-q'
sub = sns.subscribe(TopicArn=arn, Protocol='sqs', Endpoint=qarn, Attributes={'FilterPolicy': json.dumps({'n': [{'numeric': ['>', 1]}]})}, ReturnSubscriptionArn=True)
out['sub'] = sub['SubscriptionArn']
attrs = {'n': {'DataType': 'Number', 'StringValue': '5'}, 's': {'DataType': 'String', 'StringValue': 'x'}, 'b': {'DataType': 'Binary', 'BinaryValue': b'\\x00\\x01'}, 'a': {'DataType': 'String.Array', 'StringValue': '["p","q"]'}}
out['id'] = sns.publish(TopicArn=arn, Message='boto hello', MessageAttributes=attrs)['MessageId']
sns.publish(TopicArn=arn, Message='filtered out', MessageAttributes={'n': {'DataType': 'Number', 'StringValue': '0'}})
batch = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{'Id': 'a', 'Message': 'batched', 'MessageAttributes': {'n': {'DataType': 'Number', 'StringValue': '2'}}}, {'Id': 'b', 'Message': 'filtered out too', 'MessageAttributes': {'n': {'DataType': 'Number', 'StringValue': '0'}}}])
out['batch'] = [[s['Id'] for s in batch['Successful']], [[f['Id'], f['Code']] for f in batch['Failed']]]
msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)['Messages']
out['bodies'] = sorted(json.loads(m['Body'])['Message'] for m in msgs)
out['attributes'] = [json.loads(m['Body']).get('MessageAttributes') for m in msgs if json.loads(m['Body'])['Message'] == 'boto hello'][0]
out['topic_attrs'] = sns.get_topic_attributes(TopicArn=arn)['Attributes']
out['subs'] = [s['SubscriptionArn'] for s in sns.list_subscriptions_by_topic(TopicArn=arn)['Subscriptions']]
def code(f):
    try:
        f()
        return 'no error'
    except botocore.exceptions.ClientError as e:
        return e.response['Error']['Code'] + ': ' + e.response['Error']['Message']
out['missing'] = code(lambda: sns.get_topic_attributes(TopicArn=arn + '-missing'))
out['bad_protocol'] = code(lambda: sns.subscribe(TopicArn=arn, Protocol='smoke-signal', Endpoint='x'))
out['bad_policy'] = code(lambda: sns.set_subscription_attributes(SubscriptionArn=sub['SubscriptionArn'], AttributeName='FilterPolicy', AttributeValue='[1]'))
print(json.dumps(out))
`;

describe('SNS API (boto3, AWS CLI)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const endpoint = (): string => `http://127.0.0.1:${ctx.broker.handle.awsPort ?? 0}`;

  it('boto3: topics, a filtered SQS subscription, every attribute type, PublishBatch, error codes', TEST_OPTS, async () => {
    const name = safeName('boto-sns');
    const out = await boto3(SCRIPT, [endpoint(), name]);
    assert.equal(out.arn, `arn:aws:sns:us-east-1:000000000000:${name}`);
    assert.deepEqual(out.bodies, ['batched', 'boto hello']);
    assert.deepEqual(out.attributes, {
      n: { Type: 'Number', Value: '5' },
      s: { Type: 'String', Value: 'x' },
      b: { Type: 'Binary', Value: 'AAE=' },
      a: { Type: 'String.Array', Value: '["p","q"]' },
    });
    assert.deepEqual(out.batch, [['a', 'b'], []]);
    assert.equal((out.topic_attrs as Record<string, string>).DisplayName, 'boto');
    assert.equal((out.topic_attrs as Record<string, string>).SubscriptionsConfirmed, '1');
    assert.deepEqual(out.subs, [out.sub]);
    assert.equal(out.missing, 'NotFound: Topic does not exist');
    assert.equal(out.bad_protocol, 'InvalidParameter: Invalid parameter: Amazon SNS does not support this protocol string: smoke-signal');
    assert.equal(out.bad_policy, 'InvalidParameter: Invalid parameter: FilterPolicy: Filter policy must be a JSON object');
  });

  it('the AWS CLI: create-topic, list-topics, publish', TEST_OPTS, async () => {
    const name = safeName('cli-sns');
    const cli = async (...args: string[]): Promise<unknown> => {
      const r = await awsCli(endpoint(), ['sns', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as unknown;
    };
    const { TopicArn } = (await cli('create-topic', '--name', name)) as { TopicArn: string };
    assert.equal(TopicArn, `arn:aws:sns:us-east-1:000000000000:${name}`);
    const { Topics } = (await cli('list-topics')) as { Topics: { TopicArn: string }[] };
    assert.ok(Topics.some((t) => t.TopicArn === TopicArn));
    const { MessageId } = (await cli('publish', '--topic-arn', TopicArn, '--message', 'from the CLI')) as { MessageId: string };
    assert.match(MessageId, /^[0-9a-f-]{36}$/);
  });
});
