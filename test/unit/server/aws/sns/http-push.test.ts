// The SNS HTTP/S pusher over a real broker (its queues, sessions and store) and a
// local node:http endpoint: deliveries with SNS's headers, retries on 5xx and on
// timeouts per the delivery policy, 4xx counted as delivered (as SNS), the dead-letter
// queue after the last retry, bounded concurrency, stop(), and messages waiting for a
// retry surviving a broker restart. Policy seconds are shrunk (secondMs) so a 1 s
// retry takes a few ms; nothing asserts on time.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Broker, DEFAULT_VHOST } from '../../../../../src/broker/broker.js';
import type { Vhost } from '../../../../../src/broker/vhost.js';
import { encodeProperties, type FieldTable } from '../../../../../src/protocol/amqp/index.js';
import { HttpPusher, type HttpPusherOptions, type PushResult, type PushTarget } from '../../../../../src/server/aws/sns/http-push.js';
import { createLogger } from '../../../../../src/util/logger.js';
import { Collector, SETTLE_MS, sleep, TEST_OPTS, uniqueName, waitUntil } from '../../../../helpers/async.js';
import { HttpEndpoint as Endpoint } from '../../../../helpers/http-endpoint.js';
import { makeTlsFixture } from '../../../../helpers/tls.js';

const logger = createLogger('silent');
const FAST: HttpPusherOptions = { secondMs: 2, jitter: 0 };
/** One retry policy second = 2 ms: three quick retries. */
const THREE_RETRIES = { healthyRetryPolicy: { numRetries: 3, minDelayTarget: 1, maxDelayTarget: 1 } };

describe('SNS HTTP/S pusher', () => {
  let dataDir = '';
  let broker: Broker;
  let vhost: Vhost;
  let endpoint: Endpoint;
  let pusher: HttpPusher | undefined;
  const results = new Collector<{ arn: string; result: PushResult; detail: string }>();

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wharf-snspush-'));
    broker = await Broker.open({ dataDir, fsync: 'batch', logger });
    vhost = broker.vhost(DEFAULT_VHOST) as Vhost;
  });

  after(async () => {
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    pusher?.close();
    pusher = undefined;
    await endpoint?.close();
    results.items.length = 0;
  });

  async function setUp(opts: HttpPusherOptions = FAST): Promise<HttpPusher> {
    endpoint = await new Endpoint().listen();
    pusher = new HttpPusher(vhost, broker.store, logger, opts);
    pusher.onResult = (arn, result, detail) => results.push({ arn, result, detail });
    return pusher;
  }

  async function queue(prefix = 'sns-sub'): Promise<string> {
    const name = uniqueName(prefix);
    await vhost.declareQueue(name, { passive: false, durable: true, exclusive: false, autoDelete: false, args: {} }, 'test');
    return name;
  }

  /** What the SNS service enqueues: the body to POST and the headers to send. */
  function enqueue(q: string, body: string, headers: FieldTable = {}): void {
    const h: FieldTable = { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': uniqueName('id'), ...headers };
    vhost.publish({
      exchange: '',
      routingKey: q,
      mandatory: false,
      properties: encodeProperties({ deliveryMode: 2, headers: h }),
      body: Buffer.from(body),
      persistent: true,
      headers: h,
      priority: 0,
      expiration: -1,
      messageId: undefined,
    });
  }

  function target(q: string, extra: Partial<PushTarget> = {}): PushTarget {
    return { subscriptionArn: `arn:aws:sns:us-east-1:000000000000:t:${q}`, endpoint: endpoint.url, queue: q, ...extra };
  }

  function counts(q: string): { ready: number; unacked: number } {
    const queue = vhost.queues.get(q);
    assert.ok(queue, `queue ${q}`);
    return { ready: queue.messageCount, unacked: queue.unacked };
  }

  it('POSTs the body with the x-amz-sns-* headers, SNS\'s Content-Type and User-Agent, then acks', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    const arn = `arn:aws:sns:us-east-1:000000000000:t:${q}`;
    enqueue(q, '{"Type":"Notification","Message":"hello"}', {
      'x-amz-sns-message-id': 'm-1',
      'x-amz-sns-topic-arn': 'arn:aws:sns:us-east-1:000000000000:t',
      'x-amz-sns-subscription-arn': arn,
      'other-header': 'not sent',
    });
    p.start(target(q));
    const [hit] = await endpoint.hits.waitFor(1);
    assert.equal(hit.body, '{"Type":"Notification","Message":"hello"}');
    assert.equal(hit.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(hit.headers['user-agent'], 'Amazon Simple Notification Service Agent');
    assert.equal(hit.headers['x-amz-sns-message-type'], 'Notification');
    assert.equal(hit.headers['x-amz-sns-message-id'], 'm-1');
    assert.equal(hit.headers['x-amz-sns-topic-arn'], 'arn:aws:sns:us-east-1:000000000000:t');
    assert.equal(hit.headers['x-amz-sns-subscription-arn'], arn);
    assert.equal(hit.headers['other-header'], undefined);
    const [r] = await results.waitFor(1);
    assert.deepEqual([r.arn, r.result], [arn, 'delivered']);
    await waitUntil(() => counts(q).unacked === 0, 'the delivery is acked');
    assert.deepEqual(counts(q), { ready: 0, unacked: 0 });
  });

  it('sends the policy\'s headerContentType and the raw-delivery header', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    enqueue(q, 'raw body', { 'x-amz-sns-rawdelivery': 'true' });
    p.start(target(q, { deliveryPolicy: JSON.stringify({ requestPolicy: { headerContentType: 'application/json' } }) }));
    const [hit] = await endpoint.hits.waitFor(1);
    assert.equal(hit.body, 'raw body');
    assert.equal(hit.headers['content-type'], 'application/json');
    assert.equal(hit.headers['x-amz-sns-rawdelivery'], 'true');
    assert.equal((await results.waitFor(1))[0].result, 'delivered');
  });

  it('retries a 500 per the delivery policy and acks once it is delivered', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    endpoint.answer = (_h, n, res) => res.writeHead(n < 2 ? 500 : 200).end();
    enqueue(q, 'retry me');
    p.start(target(q, { deliveryPolicy: THREE_RETRIES }));
    const [r] = await results.waitFor(1);
    assert.equal(r.result, 'delivered');
    assert.equal(endpoint.hits.length, 3);
    assert.deepEqual(endpoint.hits.items.map((h) => h.body), ['retry me', 'retry me', 'retry me']);
    await waitUntil(() => counts(q).unacked === 0, 'the delivery is acked');
  });

  it('counts any 2xx-4xx answer as delivered (SNS: failures are outside 200-4xx)', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    const statuses = [204, 302, 404, 499];
    endpoint.answer = (_h, n, res) => res.writeHead(statuses[n] ?? 200).end();
    for (let i = 0; i < statuses.length; i++) enqueue(q, `m${i}`);
    p.start(target(q, { deliveryPolicy: THREE_RETRIES }));
    const rs = await results.waitFor(statuses.length);
    assert.deepEqual(rs.map((r) => r.result), ['delivered', 'delivered', 'delivered', 'delivered']);
    await sleep(SETTLE_MS);
    assert.equal(endpoint.hits.length, statuses.length, 'no retries');
  });

  it('a request that gets no answer within the timeout is a failed attempt, and retried', TEST_OPTS, async () => {
    const p = await setUp({ ...FAST, requestTimeoutMs: 200 });
    const q = await queue();
    // The first request is never answered.
    endpoint.answer = (_h, n, res) => {
      if (n > 0) res.writeHead(200).end();
    };
    enqueue(q, 'slow');
    p.start(target(q, { deliveryPolicy: THREE_RETRIES }));
    const [r] = await results.waitFor(1);
    assert.equal(r.result, 'delivered');
    assert.equal(endpoint.hits.length, 2);
  });

  it('after the last retry, writes the body to the dead-letter queue and acks', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    const dlq = await queue('sns-dlq');
    endpoint.answer = (_h, _n, res) => res.writeHead(503).end();
    enqueue(q, '{"Type":"Notification","Message":"lost?"}', { 'x-amz-sns-message-id': 'dead-1' });
    p.start(target(q, { deliveryPolicy: THREE_RETRIES, deadLetterQueue: dlq }));
    const [r] = await results.waitFor(1);
    assert.equal(r.result, 'dead-lettered');
    assert.equal(r.detail, 'HTTP status 503');
    assert.equal(endpoint.hits.length, 4, 'the first attempt and three retries');
    await waitUntil(() => counts(q).unacked === 0, 'the delivery is acked');
    assert.deepEqual(counts(dlq), { ready: 1, unacked: 0 });
    const got = await vhost.queues.get(dlq)?.take();
    assert.ok(got?.msg.content);
    assert.equal(got.msg.content.body.toString(), '{"Type":"Notification","Message":"lost?"}');
    assert.ok(got.msg.persistent);
  });

  it('without a dead-letter queue (or with a missing one) the message is discarded, as SNS does', TEST_OPTS, async () => {
    const p = await setUp();
    const q1 = await queue();
    const q2 = await queue();
    endpoint.answer = (_h, _n, res) => res.writeHead(500).end();
    enqueue(q1, 'a');
    enqueue(q2, 'b');
    p.start(target(q1, { deliveryPolicy: { healthyRetryPolicy: { numRetries: 1, minDelayTarget: 1, maxDelayTarget: 1 } } }));
    p.start(target(q2, { deliveryPolicy: { healthyRetryPolicy: { numRetries: 0 } }, deadLetterQueue: 'no-such-queue' }));
    const rs = await results.waitFor(2);
    assert.deepEqual(rs.map((r) => r.result), ['dropped', 'dropped']);
    assert.equal(endpoint.hits.length, 3);
    await waitUntil(() => counts(q1).unacked + counts(q2).unacked === 0, 'both are acked');
    assert.deepEqual([counts(q1), counts(q2)], [{ ready: 0, unacked: 0 }, { ready: 0, unacked: 0 }]);
  });

  it('an endpoint that is no http(s) URL is a client-side error: no retries, straight to the dead-letter queue', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    const dlq = await queue('sns-dlq');
    enqueue(q, 'nowhere');
    p.start(target(q, { endpoint: 'ftp://example.com/x', deliveryPolicy: THREE_RETRIES, deadLetterQueue: dlq }));
    const [r] = await results.waitFor(1);
    assert.equal(r.result, 'dead-lettered');
    assert.match(r.detail, /not an http or https URL/);
    assert.equal(counts(dlq).ready, 1);
  });

  it('a refused connection is retried like a 5xx', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    const dlq = await queue('sns-dlq');
    const closed = endpoint.url;
    await endpoint.close();
    endpoint = await new Endpoint().listen();
    enqueue(q, 'x');
    p.start(target(q, { endpoint: closed, deliveryPolicy: THREE_RETRIES, deadLetterQueue: dlq }));
    const [r] = await results.waitFor(1);
    assert.equal(r.result, 'dead-lettered');
    assert.match(r.detail, /ECONNREFUSED/);
  });

  it('pushes at most `concurrency` messages of a subscription at once', TEST_OPTS, async () => {
    const p = await setUp({ ...FAST, concurrency: 2 });
    const q = await queue();
    const held: ServerResponse[] = [];
    endpoint.answer = (_h, _n, res) => held.push(res);
    for (let i = 0; i < 5; i++) enqueue(q, `m${i}`);
    p.start(target(q));
    await endpoint.hits.waitFor(2);
    await sleep(SETTLE_MS);
    assert.equal(endpoint.hits.length, 2);
    assert.deepEqual(counts(q), { ready: 3, unacked: 2 });
    endpoint.answer = (_h, _n, res) => res.writeHead(200).end();
    for (const res of held) res.writeHead(200).end();
    await results.waitFor(5);
    assert.equal(endpoint.openMax <= 2, true, `at most 2 open requests (saw ${endpoint.openMax})`);
    assert.deepEqual(counts(q), { ready: 0, unacked: 0 });
  });

  it('messages waiting for their retries hold no request slot: every message gets its first attempt', TEST_OPTS, async () => {
    const p = await setUp({ secondMs: 1000, jitter: 0, concurrency: 2 });
    const q = await queue();
    endpoint.answer = (_h, _n, res) => res.writeHead(500).end();
    for (let i = 0; i < 5; i++) enqueue(q, `m${i}`);
    p.start(target(q, { deliveryPolicy: { healthyRetryPolicy: { numRetries: 1, minDelayTarget: 600, maxDelayTarget: 600 } } }));
    const hits = await endpoint.hits.waitFor(5);
    assert.deepEqual(hits.map((h) => h.body).sort(), ['m0', 'm1', 'm2', 'm3', 'm4']);
    await waitUntil(() => endpoint.open === 0, 'every attempt is answered');
    assert.deepEqual(counts(q), { ready: 0, unacked: 5 });
    assert.equal(results.length, 0);
  });

  it('throttlePolicy.maxReceivesPerSecond spaces a subscription\'s requests', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    for (let i = 0; i < 3; i++) enqueue(q, `m${i}`);
    p.start(target(q, { deliveryPolicy: { throttlePolicy: { maxReceivesPerSecond: 1 } } }));
    await endpoint.hits.waitFor(1);
    await sleep(SETTLE_MS);
    assert.equal(endpoint.hits.length, 1, 'the next request waits for its turn');
    const hits = await endpoint.hits.waitFor(3);
    assert.deepEqual(hits.map((h) => h.body).sort(), ['m0', 'm1', 'm2']);
    assert.equal((await results.waitFor(3)).every((r) => r.result === 'delivered'), true);
  });

  it('stop(): a message waiting for its retry goes back to the queue, unacked by no one', TEST_OPTS, async () => {
    const p = await setUp({ secondMs: 1000, jitter: 0 });
    const q = await queue();
    endpoint.answer = (_h, _n, res) => res.writeHead(500).end();
    enqueue(q, 'wait');
    const t = target(q, { deliveryPolicy: { healthyRetryPolicy: { numRetries: 3, minDelayTarget: 600, maxDelayTarget: 600 } } });
    p.start(t);
    await endpoint.hits.waitFor(1);
    await waitUntil(() => endpoint.open === 0, 'the first attempt is answered');
    assert.deepEqual(counts(q), { ready: 0, unacked: 1 });
    p.stop(t.subscriptionArn);
    assert.equal(p.has(t.subscriptionArn), false);
    assert.deepEqual(counts(q), { ready: 1, unacked: 0 });
    assert.equal(results.length, 0);
  });

  it('start() again updates the target in place (a new endpoint gets the retries)', TEST_OPTS, async () => {
    const p = await setUp({ secondMs: 50, jitter: 0 });
    const q = await queue();
    const other = new Endpoint();
    await other.listen();
    try {
      endpoint.answer = (_h, _n, res) => res.writeHead(500).end();
      enqueue(q, 'moved');
      const t = target(q, { deliveryPolicy: { healthyRetryPolicy: { numRetries: 3, minDelayTarget: 5, maxDelayTarget: 5 } } });
      p.start(t);
      await endpoint.hits.waitFor(1);
      p.start({ ...t, endpoint: other.url });
      const [hit] = await other.hits.waitFor(1);
      assert.equal(hit.body, 'moved');
      assert.equal((await results.waitFor(1))[0].result, 'delivered');
    } finally {
      await other.close();
    }
  });

  it('a subscription queue that is deleted stops its pusher', TEST_OPTS, async () => {
    const p = await setUp();
    const q = await queue();
    const t = target(q);
    p.start(t);
    assert.equal(p.has(t.subscriptionArn), true);
    await vhost.deleteQueue(q, { ifUnused: false, ifEmpty: false }, 'test');
    await waitUntil(() => !p.has(t.subscriptionArn), 'the pusher stops');
    // Starting on a missing queue does not throw either.
    p.start(t);
    assert.equal(p.has(t.subscriptionArn), false);
  });
});

describe('SNS HTTP/S pusher across a broker restart', () => {
  it('a message waiting for a retry when the broker stops is pushed after it starts again (at least once)', TEST_OPTS, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wharf-snspush-'));
    const endpoint = await new Endpoint().listen();
    try {
      let broker = await Broker.open({ dataDir, fsync: 'batch', logger });
      let vhost = broker.vhost(DEFAULT_VHOST) as Vhost;
      const q = 'sns-sub-restart';
      await vhost.declareQueue(q, { passive: false, durable: true, exclusive: false, autoDelete: false, args: {} }, 'test');
      await broker.topologySaved();
      const h: FieldTable = { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': 'survivor' };
      vhost.publish({
        exchange: '',
        routingKey: q,
        mandatory: false,
        properties: encodeProperties({ deliveryMode: 2, headers: h }),
        body: Buffer.from('survivor'),
        persistent: true,
        headers: h,
        priority: 0,
        expiration: -1,
        messageId: undefined,
      });
      await broker.store.sync();
      endpoint.answer = (_h, _n, res) => res.writeHead(500).end();
      const t: PushTarget = {
        subscriptionArn: 'arn:aws:sns:us-east-1:000000000000:t:restart',
        endpoint: endpoint.url,
        queue: q,
        deliveryPolicy: { healthyRetryPolicy: { numRetries: 3, minDelayTarget: 600, maxDelayTarget: 600 } },
      };
      let pusher = new HttpPusher(vhost, broker.store, logger, { jitter: 0 });
      pusher.start(t);
      await endpoint.hits.waitFor(1);
      pusher.close();
      await broker.close();

      endpoint.answer = (_h, _n, res) => res.writeHead(200).end();
      broker = await Broker.open({ dataDir, fsync: 'batch', logger });
      vhost = broker.vhost(DEFAULT_VHOST) as Vhost;
      pusher = new HttpPusher(vhost, broker.store, logger, { jitter: 0 });
      const delivered = new Collector<PushResult>();
      pusher.onResult = (_arn, r) => delivered.push(r);
      pusher.start(t);
      const hits = await endpoint.hits.waitFor(2);
      assert.equal(hits[1].body, 'survivor');
      assert.equal(hits[1].headers['x-amz-sns-message-id'], 'survivor');
      assert.deepEqual(await delivered.waitFor(1), ['delivered']);
      pusher.close();
      await broker.close();
    } finally {
      await endpoint.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('SNS HTTPS pusher', () => {
  it('pushes over TLS to an endpoint whose CA it trusts, and never to one it does not (as SNS)', TEST_OPTS, async () => {
    const tls = await makeTlsFixture();
    const dataDir = await mkdtemp(join(tmpdir(), 'wharf-snspush-'));
    const bodies: string[] = [];
    const server = createHttpsServer({ cert: tls.server.cert, key: tls.server.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${(server.address() as AddressInfo).port}/hook`;
    const broker = await Broker.open({ dataDir, fsync: 'batch', logger });
    const pushers: HttpPusher[] = [];
    try {
      const vhost = broker.vhost(DEFAULT_VHOST) as Vhost;
      const results = new Collector<[PushResult, string]>();
      for (const [name, opts] of [['sns-tls-trusted', { tls: { ca: tls.ca } }], ['sns-tls-untrusted', {}]] as const) {
        await vhost.declareQueue(name, { passive: false, durable: true, exclusive: false, autoDelete: false, args: {} }, 'test');
        const h: FieldTable = { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': name };
        vhost.publish({
          exchange: '',
          routingKey: name,
          mandatory: false,
          properties: encodeProperties({ deliveryMode: 2, headers: h }),
          body: Buffer.from(name),
          persistent: true,
          headers: h,
          priority: 0,
          expiration: -1,
          messageId: undefined,
        });
        const p = new HttpPusher(vhost, broker.store, logger, { ...FAST, ...opts });
        pushers.push(p);
        p.onResult = (_arn, r, detail) => results.push([r, detail]);
        p.start({ subscriptionArn: name, endpoint: url, queue: name, deliveryPolicy: { healthyRetryPolicy: { numRetries: 1, numNoDelayRetries: 1 } } });
        await results.waitFor(pushers.length);
      }
      const [trusted, untrusted] = results.items;
      assert.equal(trusted[0], 'delivered');
      assert.equal(untrusted[0], 'dropped');
      assert.match(untrusted[1], /certificate/);
      assert.deepEqual(bodies, ['sns-tls-trusted']);
    } finally {
      for (const p of pushers) p.close();
      await broker.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dataDir, { recursive: true, force: true });
      await tls.remove();
    }
  });
});
