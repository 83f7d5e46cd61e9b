// Fuzzing SNS through the listener: signed requests (AWS SDK v3's SNS client, its body
// swapped for a random form before signing) with every SNS action Wharf serves, params
// shaped by botocore's model with random values (a real topic or subscription ARN
// often, so requests get past the lookups), junk keys and junk bodies. Every answer is
// XML, a result or an ErrorResponse, with a status below 500, and the broker keeps serving.

import * as sns from '@aws-sdk/client-sns';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SNS_MODEL } from '../../src/protocol/aws/index.js';
import { SNS_SERVICE } from '../../src/server/aws/services.js';
import { snsClient, sqsArn, sqsClient } from '../helpers/aws.js';
import { skipUnderReference, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { fuzzSignedForms, queryForms } from './aws-fuzz-core.js';

const ACTIONS = Object.keys(SNS_MODEL.operations).filter((a) => SNS_SERVICE.has(a));
const ARN_KEYS = new Set(['TopicArn', 'TargetArn', 'ResourceArn', 'SubscriptionArn', 'Endpoint']);

function formFor(arns: { topic: string; subscription: string; queue: string }): fc.Arbitrary<string> {
  return queryForms({
    model: SNS_MODEL,
    actions: ACTIONS,
    version: '2010-03-31',
    junkFormVersion: true,
    junkKeys: ['member', 'entry', 'key', 'value', '1', '2', '0', '', 'Attributes', 'MessageAttributes', 'TopicArn', 'Tags', '__proto__', 'x'.repeat(300)],
    junkValues: ['true', '-1', '{"a":["b"]}', '[1]', 'AA==', '%zz', '', arns.topic, arns.subscription, 'sqs', 'http'],
    pairs: (params, real, junk) => [
      ...params.map(([k, v]): [string, string] => {
        if (!real || !ARN_KEYS.has(k)) return [k, v];
        if (k === 'SubscriptionArn') return [k, arns.subscription];
        if (k === 'Endpoint') return [k, arns.queue];
        return [k, arns.topic];
      }),
      ...junk,
    ],
  });
}

describe('SNS query protocol fuzzing', { skip: skipUnderReference }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ awsPort: 0 });
  });
  after(async () => {
    await broker?.close();
  });

  it('random signed SNS forms get XML answers below 500, and the broker keeps serving', { timeout: 300_000 }, async () => {
    const port = broker.handle.awsPort ?? 0;
    const plain = snsClient(port);
    await sqsClient(port).send(new CreateQueueCommand({ QueueName: 'fuzz-sns-q' }));
    const queue = sqsArn('fuzz-sns-q');
    const { TopicArn } = await plain.send(new sns.CreateTopicCommand({ Name: 'fuzz-sns' }));
    const { SubscriptionArn } = await plain.send(new sns.SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: queue }));
    const client = snsClient(port);
    const statuses = await fuzzSignedForms(client, () => client.send(new sns.ListTopicsCommand({})), formFor({ topic: String(TopicArn), subscription: String(SubscriptionArn), queue }), 'http://sns.amazonaws.com/doc/2010-03-31/');
    // (A fuzzed DeleteTopic may have deleted the topic: creating it is the check.)
    assert.equal((await plain.send(new sns.CreateTopicCommand({ Name: 'fuzz-sns' }))).TopicArn, TopicArn, 'the broker still serves');
    assert.ok((statuses.get(200) ?? 0) > 0 && [...statuses.keys()].some((s) => s === 400), `statuses: ${JSON.stringify([...statuses])}`);
  });
});
