// Fuzzing the AWS query protocol through the listener: signed requests (AWS SDK v3's
// SQS client on its query protocol, its body swapped for a random form before signing)
// with every SQS action, params shaped by botocore's model with random values, junk
// keys and junk bodies. Every answer is XML, a result or an ErrorResponse, with a
// status below 500, and the broker keeps serving.

import * as sqs from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SQS_MODEL } from '../../src/protocol/aws/index.js';
import { awsEndpoint, sqsClient, sqsQueryClient } from '../helpers/aws.js';
import { skipUnderReference, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { fuzzSignedForms, queryForms } from './aws-fuzz-core.js';

const ACTIONS = Object.keys(SQS_MODEL.operations);
const QUEUE = 'fuzz-query-q';

function formFor(queueUrl: string): fc.Arbitrary<string> {
  return queryForms({
    model: SQS_MODEL,
    actions: ACTIONS,
    version: '2012-11-05',
    junkFormVersion: false,
    junkKeys: ['member', 'entry', 'Name', 'Value', '1', '2', '0', '', 'Attribute', 'MessageAttribute', 'QueueUrl', 'Entries', '__proto__', 'x'.repeat(300)],
    junkValues: ['true', '-1', '99999999999999999999', 'AA==', '%zz', '', queueUrl],
    // Long polls would only make the run slow; the queue is mostly a real one so requests get past the lookup.
    pairs: (params, realQueue, junk) => [
      ...params.filter(([k]) => !k.endsWith('WaitTimeSeconds')).map(([k, v]): [string, string] => [k, k === 'QueueUrl' && realQueue ? queueUrl : v]),
      ...junk.filter(([k]) => !k.endsWith('WaitTimeSeconds')),
    ],
  });
}

describe('AWS query protocol fuzzing', { skip: skipUnderReference }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ awsPort: 0 });
  });
  after(async () => {
    await broker?.close();
  });

  it('random signed forms get XML answers below 500, and the broker keeps serving', { timeout: 300_000 }, async () => {
    const endpoint = awsEndpoint(broker.handle.awsPort ?? 0);
    const client = sqsQueryClient(endpoint);
    const { QueueUrl } = await client.send(new sqs.CreateQueueCommand({ QueueName: QUEUE }));
    const statuses = await fuzzSignedForms(client, () => client.send(new sqs.ListQueuesCommand({})), formFor(String(QueueUrl)), 'http://queue.amazonaws.com/doc/2012-11-05/');
    const plain = sqsClient(endpoint);
    // (A fuzzed DeleteQueue may have deleted the queue: creating it is the check.)
    assert.equal((await plain.send(new sqs.CreateQueueCommand({ QueueName: QUEUE }))).QueueUrl, QueueUrl, 'the broker still serves');
    assert.ok((statuses.get(200) ?? 0) > 0 && [...statuses.keys()].some((s) => s === 400), `statuses: ${JSON.stringify([...statuses])}`);
  });
});
