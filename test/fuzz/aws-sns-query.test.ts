// Fuzzing SNS through the listener: signed requests (AWS SDK v3's SNS client, its body
// swapped for a random form before signing) with every SNS action Wharf serves, params
// shaped by botocore's model with random values (a real topic or subscription ARN
// often, so requests get past the lookups), junk keys and junk bodies. Every answer is
// XML, a result or an ErrorResponse, with a status below 500, and the broker keeps serving.

import * as sns from '@aws-sdk/client-sns';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SNS_MODEL } from '../../src/protocol/aws/index.js';
import { SNS_SERVICE } from '../../src/server/aws/services.js';
import { skipUnderReference, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { queryForm, shapeValue } from '../unit/protocol/aws/arbitraries.js';

class Answer extends Error {
  constructor(readonly status: number, readonly contentType: string, readonly body: string) {
    super('answer');
  }
}

const ACTIONS = Object.keys(SNS_MODEL.operations).filter((a) => SNS_SERVICE.has(a));
const ARN_KEYS = new Set(['TopicArn', 'TargetArn', 'ResourceArn', 'SubscriptionArn', 'Endpoint']);

function formFor(arns: { topic: string; subscription: string; queue: string }): fc.Arbitrary<string> {
  const junkKey = fc.array(fc.constantFrom('member', 'entry', 'key', 'value', '1', '2', '0', '', 'Attributes', 'MessageAttributes', 'TopicArn', 'Tags', '__proto__', 'x'.repeat(300)), { minLength: 1, maxLength: 5 }).map((s) => s.join('.'));
  const junkValue = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('true', '-1', '{"a":["b"]}', '[1]', 'AA==', '%zz', '', arns.topic, arns.subscription, 'sqs', 'http'));
  const modelled = fc.constantFrom(...ACTIONS).chain((action) => {
    const input = SNS_MODEL.operations[action].input;
    const params = input === undefined ? fc.constant<[string, string][]>([]) : shapeValue(SNS_MODEL, input).map((v) => queryForm(SNS_MODEL, input, v));
    return fc.tuple(fc.constant(action), params, fc.boolean(), fc.array(fc.tuple(junkKey, junkValue), { maxLength: 4 }));
  }).map(([action, params, real, junk]) => {
    const pairs = params.map(([k, v]): [string, string] => {
      if (!real || !ARN_KEYS.has(k)) return [k, v];
      if (k === 'SubscriptionArn') return [k, arns.subscription];
      if (k === 'Endpoint') return [k, arns.queue];
      return [k, arns.topic];
    });
    return new URLSearchParams([['Action', action], ['Version', '2010-03-31'], ...pairs, ...junk]).toString();
  });
  const junkForm = fc.tuple(fc.constantFrom(...ACTIONS, 'Nope', ''), fc.array(fc.tuple(junkKey, junkValue), { maxLength: 8 }))
    .map(([action, pairs]) => new URLSearchParams([['Action', action], ['Version', '2010-03-31'], ...pairs]).toString());
  const junkBody = fc.oneof(fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('latin1')));
  return fc.oneof({ weight: 6, arbitrary: modelled }, { weight: 2, arbitrary: junkForm }, { weight: 1, arbitrary: junkBody });
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
    const endpoint = `http://127.0.0.1:${broker.handle.awsPort ?? 0}`;
    const config = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
    const plain = new sns.SNSClient(config);
    const { SQSClient, CreateQueueCommand } = await import('@aws-sdk/client-sqs');
    await new SQSClient(config).send(new CreateQueueCommand({ QueueName: 'fuzz-sns-q' }));
    const queue = 'arn:aws:sqs:us-east-1:000000000000:fuzz-sns-q';
    const { TopicArn } = await plain.send(new sns.CreateTopicCommand({ Name: 'fuzz-sns' }));
    const { SubscriptionArn } = await plain.send(new sns.SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: queue }));
    const client = new sns.SNSClient(config);
    let form = '';
    client.middlewareStack.add((next) => (args) => {
      const request = args.request as { body: string; headers: Record<string, string> };
      request.body = form;
      request.headers['content-length'] = String(Buffer.byteLength(form));
      return next(args);
    }, { step: 'build', priority: 'low' });
    client.middlewareStack.add((next) => async (args) => {
      const { response } = (await next(args)) as unknown as { response: { statusCode: number; headers: Record<string, string>; body: AsyncIterable<Uint8Array> } };
      const chunks: Buffer[] = [];
      for await (const c of response.body) chunks.push(Buffer.from(c));
      throw new Answer(response.statusCode, response.headers['content-type'] ?? '', Buffer.concat(chunks).toString('utf8'));
    }, { step: 'deserialize', priority: 'low' });
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(formFor({ topic: String(TopicArn), subscription: String(SubscriptionArn), queue }), async (f) => {
        form = f;
        const answer = await client.send(new sns.ListTopicsCommand({})).then(() => undefined, (err: unknown) => err);
        assert.ok(answer instanceof Answer, `no raw answer: ${String(answer)}`);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        assert.ok(answer.status < 500, `${answer.status} for ${f}: ${answer.body}`);
        assert.equal(answer.contentType, 'text/xml');
        assert.match(answer.body, answer.status === 200 ? /^<\?xml version="1\.0"\?><\w+Response xmlns="http:\/\/sns\.amazonaws\.com\/doc\/2010-03-31\/">/ : /^<\?xml version="1\.0"\?><ErrorResponse xmlns="http:\/\/sns\.amazonaws\.com\/doc\/2010-03-31\/"><Error><Type>Sender<\/Type><Code>[\w.]+<\/Code>/);
      }),
      { numRuns: 300, seed: 15 },
    );
    // (A fuzzed DeleteTopic may have deleted the topic: creating it is the check.)
    assert.equal((await plain.send(new sns.CreateTopicCommand({ Name: 'fuzz-sns' }))).TopicArn, TopicArn, 'the broker still serves');
    assert.ok((statuses.get(200) ?? 0) > 0 && [...statuses.keys()].some((s) => s === 400), `statuses: ${JSON.stringify([...statuses])}`);
  });
});
