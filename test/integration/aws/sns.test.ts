// The SNS API through AWS SDK v3 (@aws-sdk/client-sns, the AWS query protocol with
// SigV4) and across protocols: a topic's SQS subscription is read with
// @aws-sdk/client-sqs and with amqplib; the envelope's signature is verified with
// node:crypto against the certificate fetched from its SigningCertURL; filter
// policies (attributes and MessageBody scope), raw delivery, errors with SNS's codes.

import {
  ConfirmSubscriptionCommand,
  CreateTopicCommand,
  DeleteTopicCommand,
  GetSubscriptionAttributesCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListSubscriptionsCommand,
  ListTagsForResourceCommand,
  ListTopicsCommand,
  PublishBatchCommand,
  PublishCommand,
  SetSubscriptionAttributesCommand,
  SNSClient,
  SubscribeCommand,
  TagResourceCommand,
  UnsubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { createVerify, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { TEST_OPTS } from '../../helpers/async.js';
import { drainBodies, useBroker } from '../../helpers/amqplib.js';
import { failureText as failure, safeName, snsClient, sqsArn, sqsClient } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';
import { canonicalString, signedFields } from '../../../src/server/aws/sns/envelope.js';

describe('SNS API (AWS SDK v3)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const endpoint = (): string => `http://127.0.0.1:${ctx.broker.handle.awsPort ?? 0}`;
  const sns = (): SNSClient => snsClient(endpoint());
  const sqs = (): SQSClient => sqsClient(endpoint());

  async function sqsQueue(prefix: string): Promise<{ name: string; url: string; arn: string }> {
    const name = safeName(prefix);
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: name }));
    return { name, url: QueueUrl ?? '', arn: sqsArn(name) };
  }

  async function receiveBodies(url: string): Promise<string[]> {
    const r = await sqs().send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    return (r.Messages ?? []).map((m) => m.Body ?? '');
  }

  it('topics: create (idempotent), attributes, list, tags, delete; errors as SNS', TEST_OPTS, async () => {
    const name = safeName('sns-topic');
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: name, Attributes: { DisplayName: 'Shown' }, Tags: [{ Key: 'team', Value: 'core' }] }));
    assert.equal(TopicArn, `arn:aws:sns:us-east-1:000000000000:${name}`);
    assert.equal((await sns().send(new CreateTopicCommand({ Name: name, Attributes: { DisplayName: 'Shown' } }))).TopicArn, TopicArn);
    const attrs = (await sns().send(new GetTopicAttributesCommand({ TopicArn }))).Attributes ?? {};
    assert.equal(attrs.DisplayName, 'Shown');
    assert.equal(attrs.SubscriptionsConfirmed, '0');
    assert.equal(attrs.TopicArn, TopicArn);
    assert.ok((await sns().send(new ListTopicsCommand({}))).Topics?.some((t) => t.TopicArn === TopicArn));
    await sns().send(new TagResourceCommand({ ResourceArn: TopicArn, Tags: [{ Key: 'env', Value: 'ci' }] }));
    const tags = (await sns().send(new ListTagsForResourceCommand({ ResourceArn: TopicArn }))).Tags ?? [];
    assert.deepEqual(tags.map((t) => `${t.Key}=${t.Value}`).sort(), ['env=ci', 'team=core']);
    assert.equal(await failure(sns().send(new CreateTopicCommand({ Name: 'no spaces allowed' }))), 'InvalidParameterException: Invalid parameter: Topic Name');
    assert.equal(await failure(sns().send(new GetTopicAttributesCommand({ TopicArn: `${TopicArn}-nope` }))), 'NotFoundException: Topic does not exist');
    await sns().send(new DeleteTopicCommand({ TopicArn }));
    assert.equal(await failure(sns().send(new PublishCommand({ TopicArn, Message: 'x' }))), 'NotFoundException: Topic does not exist');
  });

  it('SNS -> SQS: the SQS SDK receives the envelope; its signature verifies against the certificate at SigningCertURL', TEST_OPTS, async () => {
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: safeName('sns-env') }));
    const q = await sqsQueue('sns-env-q');
    const { SubscriptionArn } = await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: q.arn, ReturnSubscriptionArn: true }));
    assert.match(SubscriptionArn ?? '', /:[0-9a-f-]{36}$/);
    const { MessageId } = await sns().send(new PublishCommand({
      TopicArn,
      Message: 'hello from SNS',
      Subject: 'Hi',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'greeting' }, blob: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2, 3]) } },
    }));
    const [body] = await receiveBodies(q.url);
    const doc = JSON.parse(body) as Record<string, string> & { MessageAttributes?: Record<string, { Type: string; Value: string }> };
    assert.equal(doc.Type, 'Notification');
    assert.equal(doc.MessageId, MessageId);
    assert.equal(doc.Message, 'hello from SNS');
    assert.equal(doc.Subject, 'Hi');
    assert.deepEqual(doc.MessageAttributes, { kind: { Type: 'String', Value: 'greeting' }, blob: { Type: 'Binary', Value: 'AQID' } });
    assert.equal(doc.UnsubscribeURL, `${endpoint()}/?Action=Unsubscribe&SubscriptionArn=${SubscriptionArn}`);
    const res = await fetch(doc.SigningCertURL);
    assert.equal(res.status, 200);
    const cert = new X509Certificate(await res.text());
    const ok = createVerify('RSA-SHA1').update(canonicalString(doc, signedFields('Notification'))).verify(cert.publicKey, doc.Signature, 'base64');
    assert.ok(ok, 'the signature verifies');
    assert.equal((await fetch(`${endpoint()}/SimpleNotificationService-00000000000000000000000000000000.pem`)).status, 404);
    // An sqs subscription's UnsubscribeURL needs a signed request, as in AWS.
    const refused = await fetch(doc.UnsubscribeURL);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /<Code>AuthorizationError<\/Code>/);
    await sns().send(new UnsubscribeCommand({ SubscriptionArn }));
    await sns().send(new PublishCommand({ TopicArn, Message: 'after unsubscribe' }));
    assert.deepEqual(await receiveBodies(q.url), []);
  });

  it('filter policies (attributes, String.Array, numeric, MessageBody scope) and raw delivery; an amqplib consumer reads the subscribed queue', TEST_OPTS, async () => {
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: safeName('sns-filter') }));
    const vip = await sqsQueue('sns-vip');
    const books = await sqsQueue('sns-books');
    await sns().send(new SubscribeCommand({
      TopicArn,
      Protocol: 'sqs',
      Endpoint: vip.arn,
      Attributes: { FilterPolicy: JSON.stringify({ tier: ['gold'], amount: [{ numeric: ['>=', 100] }] }), RawMessageDelivery: 'true' },
    }));
    const { SubscriptionArn } = await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: books.arn }));
    await sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'FilterPolicyScope', AttributeValue: 'MessageBody' }));
    await sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: JSON.stringify({ item: { tags: ['book'] } }) }));
    const got = (await sns().send(new GetSubscriptionAttributesCommand({ SubscriptionArn }))).Attributes ?? {};
    assert.equal(got.FilterPolicyScope, 'MessageBody');
    assert.equal(got.Endpoint, books.arn);
    const attr = (tier: string, amount: string): Record<string, { DataType: string; StringValue: string }> => ({
      tier: { DataType: 'String', StringValue: tier },
      amount: { DataType: 'Number', StringValue: amount },
    });
    await sns().send(new PublishCommand({ TopicArn, Message: 'gold 150', MessageAttributes: attr('gold', '150') }));
    await sns().send(new PublishCommand({ TopicArn, Message: 'gold 50', MessageAttributes: attr('gold', '50') }));
    await sns().send(new PublishCommand({ TopicArn, Message: 'silver 500', MessageAttributes: attr('silver', '500') }));
    await sns().send(new PublishCommand({ TopicArn, Message: JSON.stringify({ item: { tags: ['pen', 'book'] } }) }));
    await sns().send(new PublishCommand({ TopicArn, Message: JSON.stringify({ item: { tags: ['pen'] } }) }));
    const ch = await ctx.clients.channel();
    const raw = await ch.get(vip.name, { noAck: true });
    assert.ok(raw);
    assert.equal(raw.content.toString(), 'gold 150');
    assert.equal(raw.properties.headers?.tier, 'gold');
    assert.equal(raw.properties.deliveryMode, 2);
    assert.deepEqual(await drainBodies(ch, vip.name), []);
    const enveloped = (await drainBodies(ch, books.name)).map((b) => (JSON.parse(b) as { Message: string }).Message);
    assert.deepEqual(enveloped, [JSON.stringify({ item: { tags: ['pen', 'book'] } })]);
    assert.equal(
      await failure(sns().send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: '{"a": [{"numeric": ["<"]}]}' }))),
      'InvalidParameterException: Invalid parameter: FilterPolicy: Value of < must be numeric\n at [Source: (String)"{"a":[{"numeric":["<"]}]}"; line: 1, column: 23]',
    );
  });

  it('PublishBatch fails whole on a bad entry, as AWS; subscriptions listed; an HTTP subscription stays pending', TEST_OPTS, async () => {
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: safeName('sns-batch') }));
    const q = await sqsQueue('sns-batch-q');
    await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: q.arn, Attributes: { RawMessageDelivery: 'true' } }));
    // AWS (LocalStack's snapshot test_publish_batch_exceptions): an entry's error is the request's.
    assert.equal(
      await failure(sns().send(new PublishBatchCommand({
        TopicArn,
        PublishBatchRequestEntries: [
          { Id: 'one', Message: 'first' },
          { Id: 'bad', Message: JSON.stringify({ sqs: 'x' }), MessageStructure: 'json' },
        ],
      }))),
      'InvalidParameterException: Invalid parameter: Message Structure - No default entry in JSON message body',
    );
    const out = await sns().send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: [{ Id: 'one', Message: 'first' }, { Id: 'two', Message: 'second' }] }));
    assert.deepEqual(out.Successful?.map((s) => s.Id), ['one', 'two']);
    assert.deepEqual(out.Failed, []);
    assert.deepEqual((await receiveBodies(q.url)).sort(), ['first', 'second']);
    assert.equal(
      await failure(sns().send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: [{ Id: 'a', Message: 'x' }, { Id: 'a', Message: 'y' }] }))),
      'BatchEntryIdsNotDistinctException: Two or more batch entries in the request have the same Id.',
    );

    const pending = await sns().send(new SubscribeCommand({ TopicArn, Protocol: 'https', Endpoint: 'https://127.0.0.1:1/hook' }));
    assert.equal(pending.SubscriptionArn, 'pending confirmation');
    const listed = (await sns().send(new ListSubscriptionsByTopicCommand({ TopicArn }))).Subscriptions ?? [];
    assert.deepEqual(listed.map((s) => s.Protocol).sort(), ['https', 'sqs']);
    assert.equal(listed.find((s) => s.Protocol === 'https')?.SubscriptionArn, 'PendingConfirmation');
    assert.ok(((await sns().send(new ListSubscriptionsCommand({}))).Subscriptions ?? []).length >= 2);
    // The push worker POSTs its SubscriptionConfirmation (to nowhere here); sns-http.test.ts has
    // the confirmation through the SubscribeURL and the pushes, against a local endpoint.
    assert.equal(await failure(sns().send(new ConfirmSubscriptionCommand({ TopicArn, Token: 'bogus' }))), 'InvalidParameterException: Invalid token');
    assert.equal(await failure(sns().send(new ConfirmSubscriptionCommand({ TopicArn, Token: 'b0905' }))), 'InvalidParameterException: Invalid parameter: Token');
    // An sqs subscription cannot be removed by an unsigned UnsubscribeURL (sns-http.test.ts has an HTTP one's, which can).
    const sqsSub = listed.find((s) => s.Protocol === 'sqs')?.SubscriptionArn ?? '';
    const refused = await fetch(`${endpoint()}/?Action=Unsubscribe&SubscriptionArn=${sqsSub}`);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /<Code>AuthorizationError<\/Code>/);
  });

  it('a FIFO topic delivers to a FIFO queue in order per group, its duplicates dropped, with the FIFO system attributes', TEST_OPTS, async () => {
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: `${safeName('sns-fifo')}.fifo`, Attributes: { FifoTopic: 'true' } }));
    const qName = `${safeName('sns-fifo-q')}.fifo`;
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: qName, Attributes: { FifoQueue: 'true' } }));
    await sns().send(
      new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: sqsArn(qName), Attributes: { RawMessageDelivery: 'true' } }),
    );
    const sends: [string, string, string][] = [['a', 'a1', 'd1'], ['b', 'b1', 'd2'], ['a', 'a2', 'd3'], ['a', 'a2-again', 'd3'], ['b', 'b2', 'd4']];
    for (const [group, body, dedup] of sends) {
      await sns().send(new PublishCommand({ TopicArn, Message: body, MessageGroupId: group, MessageDeduplicationId: dedup }));
    }
    const got: { body: string; group: string; seq: string }[] = [];
    for (let i = 0; i < 10 && got.length < 4; i++) {
      const r = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }));
      for (const m of r.Messages ?? []) {
        got.push({ body: m.Body ?? '', group: m.Attributes?.MessageGroupId ?? '', seq: m.Attributes?.SequenceNumber ?? '' });
        await sqs().send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    assert.deepEqual(got.filter((g) => g.group === 'a').map((g) => g.body), ['a1', 'a2'], "group a in order, the repeated de-duplication id dropped");
    assert.deepEqual(got.filter((g) => g.group === 'b').map((g) => g.body), ['b1', 'b2']);
    assert.ok(got.every((g) => /^\d{20}$/.test(g.seq)), 'each copy has the queue\'s 20-digit SequenceNumber');
  });
});
