// kill -9 and SNS: a Publish is answered only once every subscription's copy is on
// disk, so after a crash mid-flood every answered MessageId is in each subscribed
// queue; topics, subscriptions (with their filters) and the signing certificate
// come back as they were.

import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import amqp from 'amqplib';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { awsEndpoint, snsClient, sqsClient } from '../helpers/aws.js';
import { makeDataDir, skipUnderReference, spawnBroker, type SpawnedBroker } from '../helpers/broker.js';

const clients = (b: SpawnedBroker): { sns: SNSClient; sqs: SQSClient; endpoint: string } => {
  const endpoint = awsEndpoint(b.awsPort ?? 0);
  return { sns: snsClient(endpoint), sqs: sqsClient(endpoint), endpoint };
};

async function drain(url: string, queue: string): Promise<string[]> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const out: string[] = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (!m) return out;
      out.push(m.content.toString());
    }
  } finally {
    await conn.close();
  }
}

test('answered SNS publishes survive kill -9 in every subscribed queue', { skip: skipUnderReference, timeout: 90_000 }, async () => {
  const dataDir = await makeDataDir();
  try {
    let b = await spawnBroker(dataDir);
    let c = clients(b);
    const { TopicArn } = await c.sns.send(new CreateTopicCommand({ Name: 'crash-topic' }));
    for (const q of ['crash-env', 'crash-raw', 'crash-none']) await c.sqs.send(new CreateQueueCommand({ QueueName: q }));
    const arn = (q: string): string => `arn:aws:sqs:us-east-1:000000000000:${q}`;
    await c.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: arn('crash-env') }));
    await c.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: arn('crash-raw'), Attributes: { RawMessageDelivery: 'true' } }));
    await c.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: arn('crash-none'), Attributes: { FilterPolicy: '{"never":["matches"]}' } }));
    const certBefore = await (await fetch(c.endpoint + (await certPath(c)))).text();

    // Publishers in flight when the broker dies; only answered publishes count.
    const answered = new Map<string, string>();
    let stop = false;
    let sent = 0;
    const publisher = async (): Promise<void> => {
      while (!stop) {
        const body = `m-${sent++}`;
        try {
          const { MessageId } = await c.sns.send(new PublishCommand({ TopicArn, Message: body }));
          if (MessageId) answered.set(MessageId, body);
        } catch {
          return; // the broker died under this request
        }
      }
    };
    const running = Array.from({ length: 8 }, publisher);
    while (answered.size < 150) await new Promise((r) => setTimeout(r, 5));
    await b.kill('SIGKILL');
    stop = true;
    await Promise.all(running);

    b = await spawnBroker(dataDir);
    c = clients(b);
    const envelopes = (await drain(b.url, 'crash-env')).map((s) => JSON.parse(s) as { MessageId: string; Message: string });
    const envIds = new Set(envelopes.map((e) => e.MessageId));
    for (const [id, body] of answered) assert.ok(envIds.has(id), `answered ${id} (${body}) is in the envelope queue`);
    const raws = new Set(await drain(b.url, 'crash-raw'));
    for (const body of answered.values()) assert.ok(raws.has(body), `answered ${body} is in the raw queue`);
    assert.deepEqual(await drain(b.url, 'crash-none'), []);
    // The subscriptions still deliver, signed with the same certificate.
    await c.sns.send(new PublishCommand({ TopicArn, Message: 'after restart' }));
    assert.deepEqual(await drain(b.url, 'crash-raw'), ['after restart']);
    assert.equal(await (await fetch(c.endpoint + (await certPath(c)))).text(), certBefore);
    await b.kill('SIGTERM');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** The SigningCertURL's path, from a delivery to a throwaway subscription. */
async function certPath(c: { sns: SNSClient; sqs: SQSClient; endpoint: string }): Promise<string> {
  const { TopicArn } = await c.sns.send(new CreateTopicCommand({ Name: 'crash-probe' }));
  await c.sqs.send(new CreateQueueCommand({ QueueName: 'crash-probe-q' }));
  await c.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:crash-probe-q' }));
  await c.sns.send(new PublishCommand({ TopicArn, Message: 'probe' }));
  const r = await c.sqs.send(new ReceiveMessageCommand({ QueueUrl: `${c.endpoint}/000000000000/crash-probe-q`, MaxNumberOfMessages: 1 }));
  const doc = JSON.parse(r.Messages?.[0]?.Body ?? '{}') as { SigningCertURL?: string };
  assert.ok(doc.SigningCertURL, 'a SigningCertURL');
  return new URL(doc.SigningCertURL).pathname;
}
