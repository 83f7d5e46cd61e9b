// SQS long polling (ReceiveMessage with WaitTimeSeconds) through AWS SDK v3: waiting
// calls are woken by what arrives on their queue, first come first served; a call
// whose client went away leaves the line and takes nothing with it; a deleted queue
// ends its waiters with QueueDoesNotExist.

import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ChangeMessageVisibilityCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, it } from 'node:test';
import { TEST_OPTS, waitUntil } from '../../helpers/async.js';
import { useBroker } from '../../helpers/amqplib.js';
import { safeName, sqsClient } from '../../helpers/aws.js';
import { skipUnderReference } from '../../helpers/broker.js';

describe('SQS long polling (AWS SDK v3)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const sqs = (): SQSClient => sqsClient(ctx.broker.handle.awsPort ?? 0);
  const waiting = (): number => ctx.broker.handle.sqsWaiting();

  async function queue(prefix: string): Promise<string> {
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: safeName(prefix) }));
    return QueueUrl ?? '';
  }

  it('serves waiters first come first served, one wake per message', TEST_OPTS, async () => {
    const QueueUrl = await queue('sqs-fifo-wait');
    const calls: Promise<string | undefined>[] = [];
    for (let i = 0; i < 5; i++) {
      calls.push(sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 })).then((r) => r.Messages?.[0]?.Body));
      await waitUntil(() => waiting() === i + 1, `waiter ${i} in line`);
    }
    for (let i = 0; i < 5; i++) await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: `m${i}` }));
    assert.deepEqual(await Promise.all(calls), ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(waiting(), 0);
  });

  it('a batch wakes as many waiters as it fills, each up to its MaxNumberOfMessages', TEST_OPTS, async () => {
    const QueueUrl = await queue('sqs-batch-wait');
    const big = sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 7 }));
    await waitUntil(() => waiting() === 1, 'first waiter in line');
    const small = sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 10 }));
    await waitUntil(() => waiting() === 2, 'second waiter in line');
    const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: `b${i}` }));
    await sqs().send(new SendMessageBatchCommand({ QueueUrl, Entries }));
    assert.deepEqual((await big).Messages?.map((m) => m.Body), ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
    assert.deepEqual((await small).Messages?.map((m) => m.Body), ['b7', 'b8', 'b9']);
  });

  it('a waiter whose client disconnected leaves the line; the next message is not spent on it', TEST_OPTS, async () => {
    const QueueUrl = await queue('sqs-gone-wait');
    const abort = new AbortController();
    const gone = sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }), { abortSignal: abort.signal });
    await waitUntil(() => waiting() === 1, 'waiter in line');
    abort.abort();
    await assert.rejects(gone);
    await waitUntil(() => waiting() === 0, 'the gone waiter leaves the line');
    await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'kept' }));
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    assert.equal(got.Messages?.[0]?.Body, 'kept');
    assert.equal(got.Messages?.[0]?.Attributes?.ApproximateReceiveCount, '1', 'first receive: never handed to the gone call');
  });

  it('deleting the queue ends its waiters with QueueDoesNotExist', TEST_OPTS, async () => {
    const QueueUrl = await queue('sqs-del-wait');
    const calls = [1, 2, 3].map(() => sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 })).then(() => 'no error', (e: { name: string }) => e.name));
    await waitUntil(() => waiting() === 3, 'three waiters in line');
    await sqs().send(new DeleteQueueCommand({ QueueUrl }));
    assert.deepEqual(await Promise.all(calls), ['QueueDoesNotExist', 'QueueDoesNotExist', 'QueueDoesNotExist']);
    assert.equal(waiting(), 0);
  });

  it('what comes back to the queue wakes waiters: ChangeMessageVisibility 0, an AMQP nack, a delayed message released', TEST_OPTS, async () => {
    const QueueUrl = await queue('sqs-back-wait');
    const name = QueueUrl.split('/').pop() ?? '';
    await sqs().send(new SendMessageCommand({ QueueUrl, MessageBody: 'lease' }));
    const leased = await sqs().send(new ReceiveMessageCommand({ QueueUrl }));
    const waiter = (): Promise<{ body?: string; count?: string }> =>
      sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))
        .then((r) => ({ body: r.Messages?.[0]?.Body, count: r.Messages?.[0]?.Attributes?.ApproximateReceiveCount }));
    let w = waiter();
    await waitUntil(() => waiting() === 1, 'waiter in line');
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: leased.Messages?.[0]?.ReceiptHandle, VisibilityTimeout: 0 }));
    assert.deepEqual(await w, { body: 'lease', count: '2' });

    const ch = await ctx.clients.channel();
    ch.sendToQueue(name, Buffer.from('nacked'));
    const got = await ch.get(name, { noAck: false });
    assert.ok(got);
    w = waiter();
    await waitUntil(() => waiting() === 1, 'waiter in line');
    ch.nack(got, false, true);
    assert.deepEqual(await w, { body: 'nacked', count: '2' });

    const exchange = `${name}-delayed`;
    await ch.assertExchange(exchange, 'x-delayed-message', { arguments: { 'x-delayed-type': 'direct' } });
    await ch.bindQueue(name, exchange, 'k');
    w = waiter();
    await waitUntil(() => waiting() === 1, 'waiter in line');
    ch.publish(exchange, 'k', Buffer.from('delayed'), { headers: { 'x-delay': 300 } });
    assert.deepEqual(await w, { body: 'delayed', count: '1' });
  });

  it('a wait that times out answers with no messages and leaves nothing behind', TEST_OPTS, async () => {
    const QueueUrl = await queue('sqs-timeout-wait');
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    assert.equal(got.Messages, undefined);
    assert.equal(waiting(), 0);
  });

  it('many concurrent waiters each get one message of a burst, none lost or doubled', TEST_OPTS, async () => {
    const QueueUrl = await queue('sqs-many-wait');
    const n = 200;
    const agent = new Agent({ keepAlive: true, maxSockets: n + 10 });
    const c = sqsClient(ctx.broker.handle.awsPort ?? 0, { httpAgent: agent });
    const calls = Array.from({ length: n }, () => c.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 })).then((r) => r.Messages?.map((m) => m.Body) ?? []));
    await waitUntil(() => waiting() === n, `${n} waiters in line`);
    for (let i = 0; i < n; i += 10) {
      await c.send(new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, j) => ({ Id: `e${j}`, MessageBody: String(i + j) })) }));
    }
    const bodies = (await Promise.all(calls)).flat();
    assert.equal(bodies.length, n);
    assert.deepEqual(new Set(bodies).size, n);
    agent.destroy();
  });
});
