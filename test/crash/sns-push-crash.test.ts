// kill -9 Wharf while SNS pushes to HTTP endpoints: one subscription's endpoint fails
// half the notifications (they wait 10 minutes for their retry), another's fails all
// of them (each goes straight to its dead-letter queue). After a restart, with the
// endpoints healthy, every published message reaches the first endpoint with a 200
// and every one is in the second subscription's dead-letter queue or pushed again:
// a message is acked only when delivered or dead-lettered, never lost in between.

import { ConfirmSubscriptionCommand, CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { waitUntil } from '../helpers/async.js';
import { snsClient, sqsClient } from '../helpers/aws.js';
import { makeDataDir, skipUnderReference, spawnBroker, type SpawnedBroker } from '../helpers/broker.js';
import { HttpEndpoint } from '../helpers/http-endpoint.js';

const MESSAGES = 200;
const clients = (b: SpawnedBroker): { sns: SNSClient; sqs: SQSClient } => ({ sns: snsClient(b.awsPort ?? 0), sqs: sqsClient(b.awsPort ?? 0) });

const isNotification = (h: { headers: Record<string, unknown> }): boolean => h.headers['x-amz-sns-message-type'] === 'Notification';
const messageOf = (body: string): string => (JSON.parse(body) as { Message: string }).Message;

/** Subscribes the endpoint and confirms it with the Token of the SubscriptionConfirmation it got. */
async function subscribe(sns: SNSClient, TopicArn: string, hook: HttpEndpoint, attributes: Record<string, string>): Promise<void> {
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: hook.url, Attributes: attributes }));
  await waitUntil(() => hook.ofType('SubscriptionConfirmation').length > 0, 'the SubscriptionConfirmation');
  const token = (JSON.parse(hook.ofType('SubscriptionConfirmation')[0].body) as { Token: string }).Token;
  await sns.send(new ConfirmSubscriptionCommand({ TopicArn, Token: token }));
}

test('kill -9 during SNS HTTP pushes: every message is delivered or dead-lettered after the restart', { skip: skipUnderReference, timeout: 120_000 }, async () => {
  const dataDir = await makeDataDir();
  const flaky = await new HttpEndpoint().listen('/flaky');
  const dead = await new HttpEndpoint().listen('/dead');
  let broker = await spawnBroker(dataDir);
  try {
    let { sns, sqs } = clients(broker);
    await sqs.send(new CreateQueueCommand({ QueueName: 'sns-crash-dlq' }));
    const { TopicArn = '' } = await sns.send(new CreateTopicCommand({ Name: 'sns-crash' }));
    // Odd messages fail once and wait 600 s for their one retry; even ones are delivered.
    flaky.answer = (h, _n, res) => res.writeHead(isNotification(h) && Number(messageOf(h.body).slice(2)) % 2 === 1 ? 500 : 200).end();
    dead.answer = (h, _n, res) => res.writeHead(isNotification(h) ? 500 : 200).end();
    await subscribe(sns, TopicArn, flaky, { DeliveryPolicy: JSON.stringify({ healthyRetryPolicy: { numRetries: 1, minDelayTarget: 600, maxDelayTarget: 600 } }) });
    await subscribe(sns, TopicArn, dead, {
      DeliveryPolicy: JSON.stringify({ healthyRetryPolicy: { numRetries: 0 } }),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:sns-crash-dlq' }),
    });

    const published: string[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      await sns.send(new PublishCommand({ TopicArn, Message: `m-${i}` }));
      published.push(`m-${i}`);
      // Kill it mid-way, with pushes in flight and retries waiting.
      if (i === MESSAGES / 2) await waitUntil(() => flaky.ofType('Notification').length > MESSAGES / 4, 'some pushes');
    }
    await waitUntil(() => flaky.ofType('Notification').length >= MESSAGES / 2, 'half the first attempts');
    assert.equal(await broker.kill('SIGKILL'), null);

    flaky.answer = (_h, _n, res) => res.writeHead(200).end();
    const killedAt = flaky.hits.length;
    broker = await spawnBroker(dataDir);
    ({ sns, sqs } = clients(broker));
    // Before the kill a 200 went to even messages only; after it, to all.
    const answered200 = (body: string, n: number): boolean => n >= killedAt || Number(messageOf(body).slice(2)) % 2 === 0;
    const delivered = (): Set<string> => new Set(flaky.hits.items.filter((h, n) => isNotification(h) && answered200(h.body, n)).map((h) => messageOf(h.body)));
    await waitUntil(() => delivered().size === MESSAGES, 'every message delivered to the flaky endpoint', 60_000);
    assert.deepEqual([...delivered()].sort(), [...published].sort());

    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'sns-crash-dlq' }));
    const dlq = new Set<string>();
    await waitUntil(async () => {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) dlq.add(messageOf(m.Body ?? '{}'));
      if ((r.Messages ?? []).length > 0) {
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: (r.Messages ?? []).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
      }
      return dlq.size === MESSAGES;
    }, 'every message in the dead-letter queue', 60_000);
    assert.deepEqual([...dlq].sort(), [...published].sort());
  } finally {
    await broker.kill('SIGKILL');
    await flaky.close();
    await dead.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
