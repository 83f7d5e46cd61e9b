// SNS Publish to one topic with 10,000 filtered SQS subscriptions: one queue per
// subscriber (a per-customer queue, the way SNS fan-out is used), each subscription's
// policy on its own customer id and a numeric range, so each message matches one
// subscription (the FilterIndex looks up the customer instead of testing 10,000
// policies). Every publish is answered only after its copy is fsync'd (group commit).
// Prints publishes/s:
//   - in-process: SnsService.Publish called directly (the ceiling: no HTTP, no SigV4);
//   - SDK: @aws-sdk/client-sns over HTTP keep-alive (query protocol + SigV4) against
//     `wharf serve` on the same data dir, in its own process;
//   - raw HTTP: the same requests signed by hand (bench/lib/sigv4-sign.ts), without the
//     SDK's own CPU;
// each for the signed envelope and for raw delivery. Numbers, never assertions.
//   node dist/bench/sns.js [--subscriptions 10000] [--seconds 3] [--concurrency 64]

import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Broker } from '../src/broker/broker.js';
import type { Vhost } from '../src/broker/vhost.js';
import { loadSigningKey } from '../src/server/aws/sns/signing.js';
import { SnsService } from '../src/server/aws/sns/service.js';
import { bindingArgs } from '../src/server/aws/sns/subscriptions.js';
import { SnsTopics } from '../src/server/aws/sns/topics.js';
import { createLogger } from '../src/util/logger.js';
import { signedFormHeaders } from './lib/sigv4-sign.js';
import { spawnBroker } from '../test/helpers/broker.js';

const { values } = parseArgs({
  options: { subscriptions: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '64' } },
});
const N = Number(values.subscriptions);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const ACCOUNT = '000000000000';
const TOPICS = { signed: 'bench-signed', raw: 'bench-raw' } as const;

/** The message of publish i: customer c<k> and an amount every subscription's range admits. */
function params(topic: string, i: number): Record<string, unknown> {
  return {
    TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:${topic}`,
    Message: `{"order":${i},"note":"an order of about a hundred bytes, as JSON"}`,
    MessageAttributes: { customer: { DataType: 'String', StringValue: `c${(i * 7919) % N}` }, amount: { DataType: 'Number', StringValue: String(50 + (i % 50)) } },
  };
}

/** Publish i as the query protocol's form (what the SDK sends), for the raw HTTP client. */
function form(topic: string, i: number): string {
  const p = params(topic, i) as { TopicArn: string; Message: string; MessageAttributes: Record<string, { DataType: string; StringValue: string }> };
  const f = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31', TopicArn: p.TopicArn, Message: p.Message });
  Object.entries(p.MessageAttributes).forEach(([name, a], k) => {
    f.set(`MessageAttributes.entry.${k + 1}.Name`, name);
    f.set(`MessageAttributes.entry.${k + 1}.Value.DataType`, a.DataType);
    f.set(`MessageAttributes.entry.${k + 1}.Value.StringValue`, a.StringValue);
  });
  return f.toString();
}

/** One signed query-protocol POST over a keep-alive agent; rejects on a non-200 answer. */
function rawPublish(agent: Agent, port: number, body: string): Promise<void> {
  const host = `127.0.0.1:${port}`;
  const headers = signedFormHeaders({ accessKey: 'test', secret: 'test', region: 'us-east-1', service: 'sns' }, host, body);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Topics with N subscriptions each, made straight on the vhost and saved once (Subscribe saves the topology per call). */
async function setUp(broker: Broker, vhost: Vhost, sns: SnsService): Promise<void> {
  for (const [kind, topic] of Object.entries(TOPICS)) {
    await sns.CreateTopic({ Name: topic });
    for (let i = 0; i < N; i++) {
      const queue = `${topic}-c${i}`;
      await vhost.declareQueue(queue, { passive: false, durable: true, exclusive: false, autoDelete: false, args: {} }, 'bench');
      const attributes: Record<string, string> = {
        Protocol: 'sqs',
        Endpoint: `arn:aws:sqs:us-east-1:${ACCOUNT}:${queue}`,
        PendingConfirmation: 'false',
        ConfirmationWasAuthenticated: 'true',
        FilterPolicy: JSON.stringify({ customer: [`c${i}`], amount: [{ numeric: ['>=', 10] }] }),
        ...(kind === 'raw' ? { RawMessageDelivery: 'true' } : {}),
      };
      vhost.bindQueue(queue, topic, '', bindingArgs(`sub-${i}`, attributes), 'bench');
    }
  }
  await broker.topologySaved();
}

/** Runs `publish` with CONCURRENCY in flight for SECONDS; publishes/s. */
async function measure(publish: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  let done = 0;
  const end = Date.now() + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      await publish(next++);
      done++;
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return done / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(9);

const dataDir = await mkdtemp(join(tmpdir(), 'wharf-bench-sns-'));
try {
  console.log(`SNS publish, ${N} filtered subscriptions per topic (1 matches each message), ${CONCURRENCY} in flight, ${SECONDS} s each (load average ${loadavg()[0].toFixed(1)})`);
  const logger = createLogger('silent');
  const broker = await Broker.open({ dataDir, fsync: 'batch', logger });
  const vhost = broker.vhost('/') as Vhost;
  const topics = new SnsTopics(vhost);
  const key = await loadSigningKey(dataDir);
  const sns = new SnsService({ broker, vhost, topics, signingKey: () => Promise.resolve(key), endpoint: 'http://127.0.0.1:4566', region: 'us-east-1', account: ACCOUNT });
  const t0 = Date.now();
  await setUp(broker, vhost, sns);
  console.log(`set-up: ${2 * N} queues and subscriptions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (const [kind, topic] of Object.entries(TOPICS)) {
    const rate = await measure((i) => sns.Publish(params(topic, i)));
    console.log(`in-process  ${kind.padEnd(7)} ${fmt(rate)} publishes/s`);
  }
  await broker.close();

  // The broker in its own process, as deployed: the SDK's own CPU (SigV4, XML) is not the broker's.
  const child = await spawnBroker(dataDir, ['--log-level', 'error']);
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const client = new SNSClient({
      endpoint: `http://127.0.0.1:${child.awsPort ?? 0}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      requestHandler: { httpAgent: agent },
    });
    for (const [kind, topic] of Object.entries(TOPICS)) {
      const rate = await measure((i) => client.send(new PublishCommand(params(topic, i) as unknown as ConstructorParameters<typeof PublishCommand>[0])));
      console.log(`SDK (HTTP) ${kind.padEnd(7)} ${fmt(rate)} publishes/s`);
    }
    client.destroy();
    // The same requests without the SDK (a form signed with SigV4 by hand): the broker's share.
    for (const [kind, topic] of Object.entries(TOPICS)) {
      const rate = await measure((i) => rawPublish(agent, child.awsPort ?? 0, form(topic, i)));
      console.log(`raw HTTP   ${kind.padEnd(7)} ${fmt(rate)} publishes/s`);
    }
    agent.destroy();
  } finally {
    await child.kill();
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
