// SNS HTTP/S push subscriptions through AWS SDK v3 (@aws-sdk/client-sns) and a local
// HTTP endpoint: the SubscriptionConfirmation is POSTed first (with SNS's headers and a
// signature that verifies against the certificate at SigningCertURL), the subscription
// is confirmed with ConfirmSubscription and the Token, or by GETting the SubscribeURL
// as an endpoint does; notifications then arrive with the subscription's headers,
// enveloped or raw; a 500 is retried per the DeliveryPolicy; after the last retry the
// message lands in the subscription's dead-letter queue (read with
// @aws-sdk/client-sqs); a message still waiting for a retry when Wharf restarts is
// pushed after the restart.

import {
  ConfirmSubscriptionCommand,
  CreateTopicCommand,
  ListSubscriptionsByTopicCommand,
  PublishCommand,
  SetSubscriptionAttributesCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
  UnsubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { createVerify, X509Certificate } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { SETTLE_MS, sleep, TEST_OPTS, waitUntil } from '../../helpers/async.js';
import { failureText as failure, safeName, snsClient, sqsArn, sqsClient } from '../../helpers/aws.js';
import { skipUnderReference, startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { HttpEndpoint, type Hit } from '../../helpers/http-endpoint.js';
import { canonicalString, signedFields } from '../../../src/server/aws/sns/envelope.js';


interface Envelope {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

/** Immediate retries only, so a test never waits on a retry delay. */
const QUICK_RETRIES = (n: number): string => JSON.stringify({ healthyRetryPolicy: { numRetries: n, numNoDelayRetries: n, minDelayTarget: 1, maxDelayTarget: 1 } });

async function verifies(doc: Envelope): Promise<boolean> {
  const pem = await (await fetch(doc.SigningCertURL)).text();
  const verify = createVerify(doc.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
  verify.update(canonicalString(doc as unknown as Record<string, string>, signedFields(doc.Type)));
  return verify.verify(new X509Certificate(pem).publicKey, doc.Signature, 'base64');
}

describe('SNS HTTP/S push subscriptions (AWS SDK v3 and a local endpoint)', { skip: skipUnderReference }, () => {
  let broker: TestBroker;
  let hook: HttpEndpoint;
  const aws = (): string => `http://127.0.0.1:${broker.handle.awsPort ?? 0}`;
  const sns = (): SNSClient => snsClient(aws());
  const sqs = (): SQSClient => sqsClient(aws());

  before(async () => {
    broker = await startTestBroker({ awsPort: 0 });
  });
  after(async () => {
    await broker.close();
  });
  afterEach(async () => {
    await hook?.close();
  });

  /** A topic with a confirmed http subscription to a fresh endpoint (confirmed with the Token). */
  async function subscribed(attributes: Record<string, string> = {}): Promise<{ TopicArn: string; SubscriptionArn: string }> {
    hook = await new HttpEndpoint().listen();
    const { TopicArn = '' } = await sns().send(new CreateTopicCommand({ Name: safeName('sns-http') }));
    await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: hook.url, Attributes: attributes }));
    const [confirmation] = await hook.hits.waitFor(1);
    const token = (JSON.parse(confirmation.body) as Envelope).Token ?? '';
    const { SubscriptionArn = '' } = await sns().send(new ConfirmSubscriptionCommand({ TopicArn, Token: token }));
    return { TopicArn, SubscriptionArn };
  }

  async function notifications(n: number): Promise<Hit[]> {
    await waitUntil(() => hook.ofType('Notification').length >= n, `${n} notifications`);
    return hook.ofType('Notification');
  }

  it('POSTs the SubscriptionConfirmation, confirms with its Token, then POSTs signed notifications with SNS\'s headers', TEST_OPTS, async () => {
    hook = await new HttpEndpoint().listen('/hook?from=sns');
    const { TopicArn = '' } = await sns().send(new CreateTopicCommand({ Name: safeName('sns-http') }));
    const sub = await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: hook.url }));
    assert.equal(sub.SubscriptionArn, 'pending confirmation');
    const [c] = await hook.hits.waitFor(1);
    assert.equal(c.method, 'POST');
    assert.equal(c.path, '/hook?from=sns');
    assert.equal(c.headers['x-amz-sns-message-type'], 'SubscriptionConfirmation');
    assert.equal(c.headers['x-amz-sns-topic-arn'], TopicArn);
    assert.equal(c.headers['x-amz-sns-subscription-arn'], undefined);
    assert.equal(c.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(c.headers['user-agent'], 'Amazon Simple Notification Service Agent');
    const confirmation = JSON.parse(c.body) as Envelope;
    assert.equal(confirmation.Type, 'SubscriptionConfirmation');
    assert.equal(confirmation.MessageId, c.headers['x-amz-sns-message-id']);
    assert.equal(confirmation.TopicArn, TopicArn);
    assert.ok(await verifies(confirmation), 'the confirmation\'s signature verifies');
    // Nothing is pushed before the subscription is confirmed.
    await sns().send(new PublishCommand({ TopicArn, Message: 'too early' }));

    const { SubscriptionArn } = await sns().send(new ConfirmSubscriptionCommand({ TopicArn, Token: confirmation.Token }));
    assert.match(SubscriptionArn ?? '', new RegExp(`^${TopicArn}:[0-9a-f-]{36}$`));
    const published = await sns().send(new PublishCommand({
      TopicArn,
      Message: 'hello endpoint',
      Subject: 'Greeting',
      MessageAttributes: { color: { DataType: 'String', StringValue: 'blue' } },
    }));
    const [n] = await notifications(1);
    assert.equal(n.headers['x-amz-sns-message-id'], published.MessageId);
    assert.equal(n.headers['x-amz-sns-topic-arn'], TopicArn);
    assert.equal(n.headers['x-amz-sns-subscription-arn'], SubscriptionArn);
    assert.equal(n.headers['x-amz-sns-rawdelivery'], undefined);
    assert.equal(n.headers['content-type'], 'text/plain; charset=UTF-8');
    const doc = JSON.parse(n.body) as Envelope;
    assert.equal(doc.Type, 'Notification');
    assert.equal(doc.MessageId, published.MessageId);
    assert.equal(doc.Message, 'hello endpoint');
    assert.equal(doc.Subject, 'Greeting');
    assert.deepEqual(doc.MessageAttributes, { color: { Type: 'String', Value: 'blue' } });
    assert.match(doc.UnsubscribeURL ?? '', /Action=Unsubscribe&SubscriptionArn=/);
    assert.ok(await verifies(doc), 'the notification\'s signature verifies');
    await sleep(SETTLE_MS);
    assert.deepEqual(hook.ofType('Notification').map((h) => (JSON.parse(h.body) as Envelope).Message), ['hello endpoint']);
    // The UnsubscribeURL, GET unsigned, removes a subscription confirmed without AuthenticateOnUnsubscribe.
    assert.equal((await fetch(doc.UnsubscribeURL ?? '')).status, 200);
    assert.deepEqual((await sns().send(new ListSubscriptionsByTopicCommand({ TopicArn }))).Subscriptions, []);
    await sns().send(new PublishCommand({ TopicArn, Message: 'after unsubscribing' }));
    await sleep(SETTLE_MS);
    assert.equal(hook.ofType('Notification').length, 1);
  });

  it('an endpoint that GETs the SubscribeURL is confirmed; raw delivery sends the bare message', TEST_OPTS, async () => {
    hook = await new HttpEndpoint().listen();
    const { TopicArn = '' } = await sns().send(new CreateTopicCommand({ Name: safeName('sns-http') }));
    await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: hook.url, Attributes: { RawMessageDelivery: 'true' } }));
    const [c] = await hook.hits.waitFor(1);
    const res = await fetch((JSON.parse(c.body) as Envelope).SubscribeURL ?? '');
    assert.equal(res.status, 200);
    const arn = /<SubscriptionArn>([^<]+)<\/SubscriptionArn>/.exec(await res.text())?.[1];
    assert.match(arn ?? '', new RegExp(`^${TopicArn}:[0-9a-f-]{36}$`));
    await sns().send(new PublishCommand({ TopicArn, Message: '{"raw":true}' }));
    const [n] = await notifications(1);
    assert.equal(n.body, '{"raw":true}');
    assert.equal(n.headers['x-amz-sns-rawdelivery'], 'true');
    assert.equal(n.headers['x-amz-sns-subscription-arn'], arn);
  });

  it('retries a notification the endpoint answers with 500, per the subscription\'s DeliveryPolicy', TEST_OPTS, async () => {
    const { TopicArn, SubscriptionArn } = await subscribed({ DeliveryPolicy: QUICK_RETRIES(3) });
    let failures = 0;
    hook.answer = (h, _n, res) => {
      const fail = h.headers['x-amz-sns-message-type'] === 'Notification' && failures++ < 2;
      res.writeHead(fail ? 500 : 200).end();
    };
    const { MessageId } = await sns().send(new PublishCommand({ TopicArn, Message: 'third time lucky' }));
    const ns = await notifications(3);
    assert.deepEqual(ns.map((h) => h.headers['x-amz-sns-message-id']), [MessageId, MessageId, MessageId]);
    assert.deepEqual(ns.map((h) => h.headers['x-amz-sns-subscription-arn']), [SubscriptionArn, SubscriptionArn, SubscriptionArn]);
    await sleep(SETTLE_MS);
    assert.equal(hook.ofType('Notification').length, 3, 'no retry after the 200');
  });

  it('after the last retry the notification goes to the subscription\'s dead-letter queue (SQS SDK)', TEST_OPTS, async () => {
    const dlqName = safeName('sns-http-dlq');
    const { QueueUrl = '' } = await sqs().send(new CreateQueueCommand({ QueueName: dlqName }));
    const redrive = JSON.stringify({ deadLetterTargetArn: sqsArn(dlqName) });
    const { TopicArn, SubscriptionArn } = await subscribed({ RedrivePolicy: redrive });
    await sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'DeliveryPolicy', AttributeValue: QUICK_RETRIES(2) }));
    hook.answer = (h, _n, res) => res.writeHead(h.headers['x-amz-sns-message-type'] === 'Notification' ? 503 : 200).end();
    const { MessageId } = await sns().send(new PublishCommand({ TopicArn, Message: 'undeliverable' }));
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
    assert.equal(got.Messages?.length, 1);
    const doc = JSON.parse(got.Messages?.[0].Body ?? '{}') as Envelope;
    assert.equal(doc.Type, 'Notification');
    assert.equal(doc.MessageId, MessageId);
    assert.equal(doc.Message, 'undeliverable');
    assert.equal(hook.ofType('Notification').length, 3, 'the first attempt and two retries');
  });

  it('refuses a DeliveryPolicy outside AWS\'s limits; a topic\'s policy applies to its subscriptions', TEST_OPTS, async () => {
    const { TopicArn, SubscriptionArn } = await subscribed();
    const bad = JSON.stringify({ healthyRetryPolicy: { numRetries: 101 } });
    assert.match(
      await failure(sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'DeliveryPolicy', AttributeValue: bad }))),
      /^InvalidParameterException: Invalid parameter: DeliveryPolicy: numRetries/,
    );
    assert.match(
      await failure(sns().send(new SetTopicAttributesCommand({ TopicArn, AttributeName: 'DeliveryPolicy', AttributeValue: '{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":0}}}' }))),
      /^InvalidParameterException: Invalid parameter: DeliveryPolicy: /,
    );
    const topicPolicy = { http: { defaultHealthyRetryPolicy: { numRetries: 1, numNoDelayRetries: 1 }, defaultRequestPolicy: { headerContentType: 'application/json' } } };
    await sns().send(new SetTopicAttributesCommand({ TopicArn, AttributeName: 'DeliveryPolicy', AttributeValue: JSON.stringify(topicPolicy) }));
    hook.answer = (h, _n, res) => res.writeHead(h.headers['x-amz-sns-message-type'] === 'Notification' ? 500 : 200).end();
    await sns().send(new PublishCommand({ TopicArn, Message: 'twice' }));
    const ns = await notifications(2);
    assert.equal(ns[0].headers['content-type'], 'application/json');
    await sleep(SETTLE_MS);
    assert.equal(hook.ofType('Notification').length, 2, 'the topic\'s one retry, then discarded (no dead-letter queue)');
    await sns().send(new UnsubscribeCommand({ SubscriptionArn }));
    await sns().send(new PublishCommand({ TopicArn, Message: 'nobody' }));
    await sleep(SETTLE_MS);
    assert.equal(hook.ofType('Notification').length, 2);
  });

  it('a notification waiting for its retry when Wharf restarts is pushed after the restart (at least once)', TEST_OPTS, async () => {
    const slow = JSON.stringify({ healthyRetryPolicy: { numRetries: 1, minDelayTarget: 600, maxDelayTarget: 600 } });
    const { TopicArn, SubscriptionArn } = await subscribed({ DeliveryPolicy: slow });
    hook.answer = (h, _n, res) => res.writeHead(h.headers['x-amz-sns-message-type'] === 'Notification' ? 500 : 200).end();
    const { MessageId } = await sns().send(new PublishCommand({ TopicArn, Message: 'survives' }));
    await notifications(1);
    hook.answer = (_h, _n, res) => res.writeHead(200).end();
    await broker.restart();
    const ns = await notifications(2);
    assert.equal(ns[1].headers['x-amz-sns-message-id'], MessageId);
    assert.equal(ns[1].headers['x-amz-sns-subscription-arn'], SubscriptionArn);
    assert.equal((JSON.parse(ns[1].body) as Envelope).Message, 'survives');
  });
});
