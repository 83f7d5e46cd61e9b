// SnsService in-process over a real broker: topics are exchanges, subscriptions
// bindings; Publish's envelopes verify against the served certificate; filters,
// raw delivery, HTTP confirmation, restarts.

import assert from 'node:assert/strict';
import { createVerify, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeProperties, encodeProperties } from '../../../../../src/protocol/amqp/index.js';
import { canonicalString, signedFields } from '../../../../../src/server/aws/sns/envelope.js';
import { snsLink } from '../../../../../src/server/aws/sns/links.js';
import { codeOf, ENDPOINT, openSnsWorld, type SnsWorld } from '../../../../helpers/sns.js';

const OPTS = { timeout: 30_000 } as const;

function verify(doc: Record<string, string>, certPem: string): boolean {
  const alg = doc.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
  return createVerify(alg).update(canonicalString(doc, signedFields(doc.Type)), 'utf8').verify(new X509Certificate(certPem).publicKey, doc.Signature, 'base64');
}

describe('SnsService (in-process)', () => {
  let w: SnsWorld;
  before(async () => {
    w = await openSnsWorld();
  });
  after(async () => {
    await w.close();
  });

  async function queue(name: string): Promise<{ url: string; arn: string }> {
    const { QueueUrl } = (await w.sqs.CreateQueue({ QueueName: name })) as { QueueUrl: string };
    return { url: QueueUrl, arn: `arn:aws:sqs:us-east-1:000000000000:${name}` };
  }

  async function receive(url: string, n = 10): Promise<{ Body: string; MessageAttributes?: Record<string, { DataType: string; StringValue?: string }> }[]> {
    const r = (await w.sqs.ReceiveMessage({ QueueUrl: url, MaxNumberOfMessages: n, MessageAttributeNames: ['All'] })) as { Messages?: { Body: string }[] };
    return r.Messages ?? [];
  }

  it('creates topics as durable fanout exchanges (idempotent), lists them 100 a page, refuses bad names', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'orders', Attributes: { DisplayName: 'Orders' } })) as { TopicArn: string };
    assert.equal(TopicArn, 'arn:aws:sns:us-east-1:000000000000:orders');
    const ex = w.vhost.exchanges.get('orders');
    assert.equal(ex?.type, 'fanout');
    assert.equal(ex?.durable, true);
    assert.deepEqual(await w.sns.CreateTopic({ Name: 'orders', Attributes: { DisplayName: 'Orders' } }), { TopicArn });
    assert.equal(await codeOf(w.sns.CreateTopic({ Name: 'orders', Attributes: { DisplayName: 'Other' } })), 'InvalidParameter: Invalid parameter: Attributes Reason: Topic already exists with different attributes');
    assert.equal(await codeOf(w.sns.CreateTopic({ Name: 'bad name' })), 'InvalidParameter: Invalid parameter: Topic Name');
    // AWS (LocalStack's snapshot test_create_topic_name_constraints): one text for every bad name.
    assert.equal(await codeOf(w.sns.CreateTopic({ Name: 'x.fifo' })), 'InvalidParameter: Invalid parameter: Topic Name');
    assert.equal(await codeOf(w.sns.CreateTopic({ Name: 'x', Attributes: { FifoTopic: 'true' } })), 'InvalidParameter: Invalid parameter: Topic Name');
    const fifo = (await w.sns.CreateTopic({ Name: 'x.fifo', Attributes: { FifoTopic: 'true' } })) as { TopicArn: string };
    assert.equal((w.sns.GetTopicAttributes({ TopicArn: fifo.TopicArn }) as { Attributes: Record<string, string> }).Attributes.FifoTopic, 'true');
    for (let i = 0; i < 100; i++) await w.sns.CreateTopic({ Name: `page-${String(i).padStart(3, '0')}` });
    const first = w.sns.ListTopics({}) as { Topics: { TopicArn: string }[]; NextToken?: string };
    assert.equal(first.Topics.length, 100);
    assert.ok(first.NextToken);
    const second = w.sns.ListTopics({ NextToken: first.NextToken }) as { Topics: { TopicArn: string }[]; NextToken?: string };
    assert.equal(first.Topics.length + second.Topics.length, 102);
    assert.equal(second.NextToken, undefined);
    const attrs = (w.sns.GetTopicAttributes({ TopicArn }) as { Attributes: Record<string, string> }).Attributes;
    assert.equal(attrs.DisplayName, 'Orders');
    assert.equal(attrs.Owner, '000000000000');
    assert.equal(JSON.parse(attrs.Policy).Statement[0].Resource, TopicArn);
    assert.equal(await codeOf(() => w.sns.GetTopicAttributes({ TopicArn: `${TopicArn}-missing` })), 'NotFound: Topic does not exist');
    assert.equal(await codeOf(() => w.sns.GetTopicAttributes({ TopicArn: 'nonsense' })), 'InvalidParameter: Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1');
  });

  it('delivers the signed Notification envelope to an SQS subscription; the signature verifies (versions 1 and 2)', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'signed' })) as { TopicArn: string };
    const q = await queue('signed-q');
    const { SubscriptionArn } = (await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: q.arn })) as { SubscriptionArn: string };
    assert.match(SubscriptionArn, new RegExp(`^${TopicArn}:[0-9a-f-]{36}$`));
    assert.deepEqual(await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: q.arn }), { SubscriptionArn });
    const { MessageId } = (await w.sns.Publish({ TopicArn, Message: 'hello', Subject: 'greeting', MessageAttributes: { color: { DataType: 'String', StringValue: 'red' } } })) as { MessageId: string };
    const [m] = await receive(q.url);
    const doc = JSON.parse(m.Body) as Record<string, string> & { MessageAttributes: unknown };
    assert.equal(doc.Type, 'Notification');
    assert.equal(doc.MessageId, MessageId);
    assert.equal(doc.TopicArn, TopicArn);
    assert.equal(doc.Subject, 'greeting');
    assert.equal(doc.Message, 'hello');
    assert.match(doc.Timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(doc.SignatureVersion, '1');
    assert.match(doc.SigningCertURL, new RegExp(`^${ENDPOINT}/SimpleNotificationService-[0-9a-f]{32}\\.pem$`));
    assert.equal(doc.UnsubscribeURL, `${ENDPOINT}/?Action=Unsubscribe&SubscriptionArn=${SubscriptionArn}`);
    assert.deepEqual(doc.MessageAttributes, { color: { Type: 'String', Value: 'red' } });
    assert.ok(verify(doc, w.certPem));
    assert.ok(!verify({ ...(doc as Record<string, string>), Message: 'tampered' }, w.certPem));
    await w.sns.SetTopicAttributes({ TopicArn, AttributeName: 'SignatureVersion', AttributeValue: '2' });
    await w.sns.Publish({ TopicArn, Message: 'v2' });
    const [m2] = await receive(q.url);
    const doc2 = JSON.parse(m2.Body) as Record<string, string>;
    assert.equal(doc2.SignatureVersion, '2');
    assert.equal(doc2.Subject, undefined);
    assert.ok(verify(doc2, w.certPem));
  });

  it('filters by attributes (FilterIndex) and by body (MessageBody scope); raw delivery keeps attributes as SQS attributes', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'filtered' })) as { TopicArn: string };
    const red = await queue('f-red');
    const big = await queue('f-big');
    const body = await queue('f-body');
    await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: red.arn, Attributes: { FilterPolicy: '{"color":["red"]}', RawMessageDelivery: 'true' } });
    await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: big.arn, Attributes: { FilterPolicy: '{"size":[{"numeric":[">",10]}]}' } });
    await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: body.arn, Attributes: { FilterPolicy: '{"order":{"kind":["book"]}}', FilterPolicyScope: 'MessageBody' } });
    await w.sns.Publish({ TopicArn, Message: 'r', MessageAttributes: { color: { DataType: 'String', StringValue: 'red' }, size: { DataType: 'Number', StringValue: '5' } } });
    await w.sns.Publish({ TopicArn, Message: 'big', MessageAttributes: { color: { DataType: 'String', StringValue: 'blue' }, size: { DataType: 'Number', StringValue: '50' } } });
    await w.sns.Publish({ TopicArn, Message: '{"order":{"kind":"book","id":1}}' });
    await w.sns.Publish({ TopicArn, Message: '{"order":{"kind":"pen"}}' });
    const reds = await receive(red.url);
    assert.deepEqual(reds.map((m) => m.Body), ['r']);
    assert.equal(reds[0].MessageAttributes?.color.StringValue, 'red');
    assert.equal(reds[0].MessageAttributes?.size.DataType, 'Number');
    const bigs = await receive(big.url);
    assert.deepEqual(bigs.map((m) => (JSON.parse(m.Body) as { Message: string }).Message), ['big']);
    const bodies = await receive(body.url);
    assert.deepEqual(bodies.map((m) => (JSON.parse(m.Body) as { Message: string }).Message), ['{"order":{"kind":"book","id":1}}']);
  });

  it('checks subscription attributes with SNS texts; Get/Set round-trip; a subscription is a binding with the filter', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'attrs' })) as { TopicArn: string };
    const q = await queue('attrs-q');
    const { SubscriptionArn } = (await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: q.arn })) as { SubscriptionArn: string };
    await w.sns.SetSubscriptionAttributes({ SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: '{"a":["b"]}' });
    const a = (w.sns.GetSubscriptionAttributes({ SubscriptionArn }) as { Attributes: Record<string, string> }).Attributes;
    assert.equal(a.FilterPolicy, '{"a":["b"]}');
    assert.equal(a.FilterPolicyScope, 'MessageAttributes');
    assert.equal(a.RawMessageDelivery, 'false');
    assert.equal(a.PendingConfirmation, 'false');
    assert.equal(a.Protocol, 'sqs');
    assert.equal(a.Endpoint, q.arn);
    assert.equal(a.TopicArn, TopicArn);
    const bindings = [...(w.vhost.exchanges.get('attrs')?.router.bindings() ?? [])];
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0].args['x-filter-policy'], '{"a":["b"]}');
    assert.equal(await codeOf(w.sns.SetSubscriptionAttributes({ SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: '{"a":"b"}' })), 'InvalidParameter: Invalid parameter: FilterPolicy: "a" must be an object or an array\n at [Source: (String)"{"a":"b"}"; line: 1, column: 7]');
    assert.equal(await codeOf(w.sns.SetSubscriptionAttributes({ SubscriptionArn, AttributeName: 'Bogus', AttributeValue: 'x' })), 'InvalidParameter: Invalid parameter: AttributeName');
    assert.match(await codeOf(w.sns.SetSubscriptionAttributes({ SubscriptionArn, AttributeName: 'RawMessageDelivery', AttributeValue: 'maybe' })), /RawMessageDelivery: Invalid value \[maybe\]/);
    assert.equal(await codeOf(w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: q.arn, Attributes: { RawMessageDelivery: 'true' } })), 'InvalidParameter: Invalid parameter: Attributes Reason: Subscription already exists with different attributes');
    assert.equal(await codeOf(w.sns.Subscribe({ TopicArn, Protocol: 'carrier-pigeon', Endpoint: 'x' })), 'InvalidParameter: Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon');
    assert.equal(await codeOf(w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:nope' })), 'InvalidParameter: Invalid parameter: SQS endpoint ARN');
    const byTopic = w.sns.ListSubscriptionsByTopic({ TopicArn }) as { Subscriptions: { SubscriptionArn: string; Protocol: string }[] };
    assert.deepEqual(byTopic.Subscriptions.map((s) => s.SubscriptionArn), [SubscriptionArn]);
    await w.sns.Unsubscribe({ SubscriptionArn });
    await w.sns.Unsubscribe({ SubscriptionArn });
    assert.equal(await codeOf(() => w.sns.GetSubscriptionAttributes({ SubscriptionArn })), 'NotFound: Subscription does not exist');
    assert.equal([...(w.vhost.exchanges.get('attrs')?.router.bindings() ?? [])].length, 0);
  });

  it('HTTP subscriptions: a signed SubscriptionConfirmation waits in amq.sns.<id>; no delivery until ConfirmSubscription', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'hooks' })) as { TopicArn: string };
    assert.deepEqual(await w.sns.Subscribe({ TopicArn, Protocol: 'http', Endpoint: 'http://127.0.0.1:9/hook' }), { SubscriptionArn: 'pending confirmation' });
    assert.equal(await codeOf(w.sns.Subscribe({ TopicArn, Protocol: 'https', Endpoint: 'http://127.0.0.1:9/x' })), 'InvalidParameter: Invalid parameter: Endpoint must match the specified protocol');
    const q = [...w.vhost.queues.values()].find((x) => x.name.startsWith('amq.sns.'));
    assert.ok(q);
    assert.equal(q.messageCount, 1);
    const [sub] = [...w.topics.allSubscriptions()].filter((s) => s.topic === 'hooks');
    assert.equal(sub.attributes.PendingConfirmation, 'true');
    await w.sns.Publish({ TopicArn, Message: 'not yet' });
    assert.equal(q.messageCount, 1);
    const listed = w.sns.ListSubscriptionsByTopic({ TopicArn }) as { Subscriptions: { SubscriptionArn: string }[] };
    assert.equal(listed.Subscriptions[0].SubscriptionArn, 'PendingConfirmation');
    assert.equal(await codeOf(w.sns.ConfirmSubscription({ TopicArn, Token: 'wrong' })), 'InvalidParameter: Invalid token');
    assert.equal(await codeOf(w.sns.ConfirmSubscription({ TopicArn, Token: 'abcdef' })), 'InvalidParameter: Invalid parameter: Token');
    const token = sub.attributes.Token;
    // AWS finds the subscription by its token: another (missing) topic's ARN still confirms it.
    const { SubscriptionArn } = (await w.sns.ConfirmSubscription({ TopicArn: `${TopicArn}x`, Token: token })) as { SubscriptionArn: string };
    assert.equal(SubscriptionArn, `${TopicArn}:${sub.id}`);
    await w.sns.Publish({ TopicArn, Message: 'now' });
    assert.equal(q.messageCount, 2);
    const attrs = (w.sns.GetTopicAttributes({ TopicArn }) as { Attributes: Record<string, string> }).Attributes;
    assert.equal(attrs.SubscriptionsConfirmed, '1');
    assert.equal(attrs.SubscriptionsPending, '0');
    // The bodies and headers the push worker sends, read as an AMQP consumer would.
    const got = (await w.receiver.receive(q.name, 10, 30)).map((r) => r.result.content);
    assert.equal(got.length, 2);
    const confirmation = JSON.parse(got[0].body.toString()) as Record<string, string>;
    assert.equal(confirmation.Type, 'SubscriptionConfirmation');
    assert.equal(confirmation.Token, token);
    assert.equal(confirmation.SubscribeURL, `${ENDPOINT}/?Action=ConfirmSubscription&TopicArn=${TopicArn}&Token=${token}`);
    assert.ok(verify(confirmation, w.certPem));
    const props = decodeProperties(got[1].properties);
    assert.equal(props.contentType, 'text/plain; charset=UTF-8');
    assert.deepEqual([...w.topics.httpSubscriptions()].map((s) => s.queue.name), [q.name]);
    const headers = props.headers ?? {};
    assert.equal(String(headers['x-amz-sns-message-type']), 'Notification');
    assert.equal(String(headers['x-amz-sns-subscription-arn']), SubscriptionArn);
    for (const r of got) assert.ok(r.body.length > 0);
    // The UnsubscribeURL, GET unsigned as a browser would (sns/links.ts): done for this HTTP subscription.
    const link = (path: string, query: string): ReturnType<typeof snsLink> =>
      snsLink({ method: 'GET', path, query, signed: false, endpoint: ENDPOINT, requestId: 'r' }, w.registry, w.broker, ['/'], '000000000000');
    const cert = await link(new URL((JSON.parse(got[1].body.toString()) as { SigningCertURL: string }).SigningCertURL).pathname, '');
    assert.equal(cert?.body, w.certPem);
    assert.equal(await link('/', 'Action=ListTopics'), undefined);
    const unsubscribed = await link('/', `Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(SubscriptionArn)}`);
    assert.equal(unsubscribed?.status, 200);
    assert.match(unsubscribed?.body ?? '', /<UnsubscribeResponse/);
    assert.equal(w.vhost.queues.has(q.name), false);
    await w.sns.DeleteTopic({ TopicArn });
    assert.equal(w.vhost.exchanges.has('hooks'), false);
  });

  it('lists subscriptions 100 a page', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'many' })) as { TopicArn: string };
    for (let i = 0; i < 101; i++) await w.sns.Subscribe({ TopicArn, Protocol: 'http', Endpoint: `http://127.0.0.1:9/${i}` });
    const first = w.sns.ListSubscriptionsByTopic({ TopicArn }) as { Subscriptions: { Endpoint: string }[]; NextToken?: string };
    assert.equal(first.Subscriptions.length, 100);
    const second = w.sns.ListSubscriptionsByTopic({ TopicArn, NextToken: first.NextToken }) as { Subscriptions: { Endpoint: string }[]; NextToken?: string };
    assert.equal(second.Subscriptions.length, 1);
    assert.equal(second.NextToken, undefined);
    assert.equal(new Set([...first.Subscriptions, ...second.Subscriptions].map((s) => s.Endpoint)).size, 101);
    await w.sns.DeleteTopic({ TopicArn });
    assert.equal([...w.vhost.queues.keys()].filter((n) => n.startsWith('amq.sns.')).length, 0);
  });

  it('checks Publish as SNS does: message structure, subject, attributes, batch rules, FIFO fields', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'checks' })) as { TopicArn: string };
    assert.equal(await codeOf(w.sns.Publish({ TopicArn, Message: '' })), 'InvalidParameter: Invalid parameter: Empty message');
    assert.equal(await codeOf(w.sns.Publish({ TopicArn, Message: 'x'.repeat(256 * 1024 + 1) })), 'InvalidParameter: Invalid parameter: Message too long');
    assert.equal(await codeOf(w.sns.Publish({ TopicArn, Message: '{"a":"b"}', MessageStructure: 'json' })), 'InvalidParameter: Invalid parameter: Message Structure - No default entry in JSON message body');
    assert.equal(await codeOf(w.sns.Publish({ TopicArn, Message: 'nope', MessageStructure: 'json' })), 'InvalidParameter: Invalid parameter: Message Structure - JSON message body failed to parse');
    assert.equal(await codeOf(w.sns.Publish({ TopicArn, Message: 'm', Subject: 'two\nlines' })), 'InvalidParameter: Invalid parameter: Subject');
    assert.equal(await codeOf(w.sns.Publish({ Message: 'm' })), 'InvalidParameter: Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
    assert.equal(await codeOf(w.sns.Publish({ TopicArn: `${TopicArn}x`, Message: 'm' })), 'NotFound: Topic does not exist');
    assert.equal(
      await codeOf(w.sns.Publish({ TopicArn, Message: 'm', MessageAttributes: { n: { DataType: 'Number', StringValue: 'abc' } } })),
      "ParameterValueInvalid: Could not cast message attribute 'n' value to number.",
    );
    assert.match(await codeOf(w.sns.Publish({ TopicArn, Message: 'm', MessageAttributes: { n: { DataType: 'Weird', StringValue: 'x' } } })), /^ParameterValueInvalid: The message attribute 'n' has an invalid message attribute type/);
    const q = await queue('checks-q');
    await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: q.arn, Attributes: { RawMessageDelivery: 'true' } });
    await w.sns.Publish({ TopicArn, Message: JSON.stringify({ default: 'dflt', sqs: 'for sqs', http: 'for http' }), MessageStructure: 'json' });
    assert.deepEqual((await receive(q.url)).map((m) => m.Body), ['for sqs']);
    assert.equal(await codeOf(w.sns.PublishBatch({ TopicArn, PublishBatchRequestEntries: [] })), "EmptyBatchRequest: The batch request doesn't contain any entries.");
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Id: `m${i}`, Message: 'x' }));
    assert.equal(await codeOf(w.sns.PublishBatch({ TopicArn, PublishBatchRequestEntries: eleven })), 'TooManyEntriesInBatchRequest: The batch request contains more entries than permissible.');
    assert.equal(await codeOf(w.sns.PublishBatch({ TopicArn, PublishBatchRequestEntries: [{ Id: 'a', Message: 'x' }, { Id: 'a', Message: 'y' }] })), 'BatchEntryIdsNotDistinct: Two or more batch entries in the request have the same Id.');
    // AWS checks every entry first: one bad entry fails the whole batch, and nothing is published.
    assert.equal(
      await codeOf(w.sns.PublishBatch({ TopicArn, PublishBatchRequestEntries: [{ Id: 'ok', Message: 'one' }, { Id: 'bad', Message: '' }, { Id: 'ok2', Message: 'two' }] })),
      'InvalidParameter: Invalid parameter: Empty message',
    );
    const batch = (await w.sns.PublishBatch({ TopicArn, PublishBatchRequestEntries: [{ Id: 'ok', Message: 'one' }, { Id: 'ok2', Message: 'two' }] })) as {
      Successful: { Id: string; MessageId: string }[];
      Failed: unknown[];
    };
    assert.deepEqual(batch.Successful.map((s) => s.Id), ['ok', 'ok2']);
    assert.deepEqual(batch.Failed, []);
    assert.deepEqual((await receive(q.url)).map((m) => m.Body).sort(), ['one', 'two']);
    const fifo = (await w.sns.CreateTopic({ Name: 'checks.fifo', Attributes: { FifoTopic: 'true' } })) as { TopicArn: string };
    assert.equal(await codeOf(w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'm' })), 'InvalidParameter: Invalid parameter: The MessageGroupId parameter is required for FIFO topics');
    const out = (await w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'm', MessageGroupId: 'g', MessageDeduplicationId: 'd' })) as { MessageId: string; SequenceNumber: string };
    assert.match(out.SequenceNumber, /^\d{20}$/);
    const fq = await queue('checks-fifo-q');
    await w.sns.Subscribe({ TopicArn: fifo.TopicArn, Protocol: 'sqs', Endpoint: fq.arn, Attributes: { RawMessageDelivery: 'true' } });
    await w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'once', MessageGroupId: 'g', MessageDeduplicationId: 'd2' });
    const again = (await w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'once more', MessageGroupId: 'g', MessageDeduplicationId: 'd2' })) as { MessageId: string };
    const first = (await w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'm', MessageGroupId: 'g', MessageDeduplicationId: 'd' })) as { MessageId: string };
    assert.equal(first.MessageId, out.MessageId);
    assert.match(again.MessageId, /^[0-9a-f-]{36}$/);
    assert.deepEqual((await receive(fq.url)).map((m) => m.Body), ['once']);
    await w.sns.SetTopicAttributes({ TopicArn: fifo.TopicArn, AttributeName: 'ContentBasedDeduplication', AttributeValue: 'true' });
    await w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'by content', MessageGroupId: 'g' });
    await w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'by content', MessageGroupId: 'g' });
    assert.deepEqual((await receive(fq.url)).map((m) => m.Body), ['by content']);
    // Copies for SQS name the group and de-duplication id as SQS FIFO sends do.
    await w.sns.Publish({ TopicArn: fifo.TopicArn, Message: 'grouped', MessageGroupId: 'g7', MessageDeduplicationId: 'x7' });
    const [copy] = await w.receiver.receive('checks-fifo-q', 1, 30);
    const h = decodeProperties(copy.result.content.properties).headers ?? {};
    assert.deepEqual([String(h['x-message-group-id']), String(h['x-sqs-deduplication-id']), String(h['x-deduplication-header'])], ['g7', 'x7', 'x7']);
  });

  it('tags topics; an AMQP publish to the topic exchange reaches subscribed queues raw', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'tagged', Tags: [{ Key: 'team', Value: 'a' }] })) as { TopicArn: string };
    await w.sns.TagResource({ ResourceArn: TopicArn, Tags: [{ Key: 'env', Value: 'test' }] });
    await w.sns.UntagResource({ ResourceArn: TopicArn, TagKeys: ['team'] });
    assert.deepEqual(w.sns.ListTagsForResource({ ResourceArn: TopicArn }), { Tags: [{ Key: 'env', Value: 'test' }] });
    assert.equal(await codeOf(() => w.sns.ListTagsForResource({ ResourceArn: `${TopicArn}-gone` })), 'ResourceNotFound: Resource does not exist');
    const q = await queue('tagged-q');
    await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: q.arn });
    w.vhost.publish({ exchange: 'tagged', routingKey: '', mandatory: false, properties: encodeProperties({ deliveryMode: 2 }), body: Buffer.from('amqp raw'), persistent: true, headers: undefined, priority: 0, expiration: -1, messageId: undefined });
    assert.deepEqual((await receive(q.url)).map((m) => m.Body), ['amqp raw']);
  });

  it('keeps topics, attributes, subscriptions and the signing certificate across a restart', OPTS, async () => {
    const { TopicArn } = (await w.sns.CreateTopic({ Name: 'durable', Attributes: { DisplayName: 'D' } })) as { TopicArn: string };
    const q = await queue('durable-q');
    const { SubscriptionArn } = (await w.sns.Subscribe({ TopicArn, Protocol: 'sqs', Endpoint: q.arn, Attributes: { FilterPolicy: '{"k":["v"]}' } })) as { SubscriptionArn: string };
    const cert = w.certPem;
    w = await w.reopen();
    assert.equal(w.certPem, cert);
    assert.equal((w.sns.GetTopicAttributes({ TopicArn }) as { Attributes: Record<string, string> }).Attributes.DisplayName, 'D');
    assert.equal((w.sns.GetSubscriptionAttributes({ SubscriptionArn }) as { Attributes: Record<string, string> }).Attributes.FilterPolicy, '{"k":["v"]}');
    await w.sns.Publish({ TopicArn, Message: 'no' });
    await w.sns.Publish({ TopicArn, Message: 'yes', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } });
    const got = await receive(q.url);
    assert.deepEqual(got.map((m) => (JSON.parse(m.Body) as { Message: string }).Message), ['yes']);
    assert.ok(verify(JSON.parse(got[0].Body) as Record<string, string>, w.certPem));
  });
});
