// kill -9 and SQS: SendMessageBatch is answered only once its messages are on disk,
// DeleteMessageBatch only once its acks are. Producers and consumers (receive,
// delete) run through AWS SDK v3 until the broker is killed mid-way; after the
// restart every message whose send was answered and whose delete was not is
// receivable again, and none whose delete was answered comes back.

import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { test } from 'node:test';
import { waitUntil } from '../helpers/async.js';
import { sqsClient } from '../helpers/aws.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../helpers/broker.js';

const QUEUE = 'sqs-crash-q';
const PRODUCERS = 4;
const CONSUMERS = 2;
/** The crash comes once this many sends and deletes have been answered. */
const SENT_BEFORE_KILL = 1500;
const DELETED_BEFORE_KILL = 300;

const client = (port: number, agent: Agent): SQSClient => sqsClient(port, { httpAgent: agent });

test('answered sends survive kill -9, answered deletes stay deleted', { skip: skipUnderReference, timeout: 120_000 }, async () => {
  const dataDir = await makeDataDir();
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  try {
    let b = await spawnBroker(dataDir);
    let sqs = client(b.awsPort ?? 0, agent);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: QUEUE }));
    const answeredSent = new Set<string>();
    const answeredDeleted = new Set<string>();
    let running = true;
    let seq = 0;

    const produce = async (p: number): Promise<void> => {
      while (running) {
        const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: `p${p}-${seq++}` }));
        try {
          const r = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries }));
          for (const ok of r.Successful ?? []) answeredSent.add(Entries[Number(ok.Id?.slice(1))].MessageBody);
        } catch {
          return; // the broker is gone
        }
      }
    };
    const consume = async (): Promise<void> => {
      while (running) {
        try {
          const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600 }));
          const msgs = r.Messages ?? [];
          // Delete every other message; the rest stay leased until the crash ends their leases.
          const doomed = msgs.filter((_, i) => i % 2 === 0);
          if (doomed.length === 0) continue;
          const d = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: doomed.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
          for (const ok of d.Successful ?? []) answeredDeleted.add(doomed[Number(ok.Id?.slice(1))].Body ?? '');
        } catch {
          return;
        }
      }
    };
    const loops = [...Array.from({ length: PRODUCERS }, (_, p) => produce(p)), ...Array.from({ length: CONSUMERS }, () => consume())];
    await waitUntil(() => answeredSent.size >= SENT_BEFORE_KILL && answeredDeleted.size >= DELETED_BEFORE_KILL, 'sends and deletes under way', 60_000);
    await b.kill('SIGKILL');
    running = false;
    await Promise.all(loops);
    agent.destroy();

    const after = new Agent({ keepAlive: true, maxSockets: 4 });
    b = await spawnBroker(dataDir);
    sqs = client(b.awsPort ?? 0, after);
    const back: string[] = [];
    for (;;) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }));
      if (!r.Messages || r.Messages.length === 0) break;
      back.push(...r.Messages.map((m) => m.Body ?? ''));
    }
    await b.kill('SIGTERM');
    after.destroy();

    const recovered = new Set(back);
    assert.equal(recovered.size, back.length, 'no message comes back twice');
    const lost = [...answeredSent].filter((m) => !answeredDeleted.has(m) && !recovered.has(m));
    assert.deepEqual(lost, [], 'every answered, undeleted send is receivable');
    const resurrected = [...answeredDeleted].filter((m) => recovered.has(m));
    assert.deepEqual(resurrected, [], 'no answered delete comes back');
    assert.ok(answeredDeleted.size >= DELETED_BEFORE_KILL && back.length > 0);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
