// Fuzzing the management API over HTTP: random methods, paths built from the
// API's own segments and junk (bad percent-encodings, huge names, unknown vhosts),
// random query strings and bodies (JSON of any shape, or garbage). Every answer is
// a proper HTTP status below 500 with RabbitMQ's error shape, and the broker keeps
// serving AMQP and HTTP throughout.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import amqp from 'amqplib';
import { skipUnderReference, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { ManagementApi } from '../helpers/management.js';

const SEGMENTS = [
  'api', 'overview', 'queues', 'exchanges', 'bindings', 'connections', 'channels', 'consumers', 'vhosts', 'users', 'nodes',
  'definitions', 'health', 'checks', 'alarms', 'port-listener', 'aliveness-test', 'e', 'q', 'get', 'publish', 'contents',
  'wharf', 'streams', 'groups', '%2F', '%2', '%ZZ', 'amq.default', 'amq.direct', 'fuzz-q', 'fuzz-x', '~', '..', '%00', 'x'.repeat(3000),
];

/** Real routes, so bodies reach the handlers. */
const ROUTES = [
  '/api/queues/%2F/fuzz-q', '/api/queues/%2F/fuzz-q/get', '/api/queues/%2F/fuzz-q/contents', '/api/exchanges/%2F/fuzz-x',
  '/api/exchanges/%2F/amq.default/publish', '/api/exchanges/%2F/fuzz-x/publish', '/api/bindings/%2F/e/fuzz-x/q/fuzz-q',
  '/api/bindings/%2F/e/amq.direct/q/fuzz-q', '/api/bindings/%2F/e/fuzz-x/e/amq.topic', '/api/definitions', '/api/queues',
  '/api/connections/x', '/api/aliveness-test/%2F', '/metrics', '/api/wharf/groups',
];

const randomPath = fc
  .array(fc.oneof(fc.constantFrom(...SEGMENTS), fc.string({ maxLength: 8 }).map(encodeURIComponent)), { minLength: 1, maxLength: 7 })
  .chain((segs) => fc.record({ segs: fc.constant(segs), query: fc.option(fc.dictionary(fc.constantFrom('page', 'page_size', 'sort', 'name', 'use_regex', 'columns', 'if-unused'), fc.string({ maxLength: 6 })), { nil: undefined }) }))
  .map(({ segs, query }) => `/${segs.join('/')}${query ? `?${new URLSearchParams(query).toString()}` : ''}`);

const path = fc.oneof(randomPath, fc.constantFrom(...ROUTES));

const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.record({
    durable: fc.oneof(fc.boolean(), fc.string()),
    type: fc.constantFrom('direct', 'topic', 'bogus', 42),
    arguments: fc.oneof(fc.object({ maxDepth: 2 }), fc.constant('x')),
    routing_key: fc.oneof(fc.string(), fc.integer()),
    payload: fc.string(),
    payload_encoding: fc.constantFrom('string', 'base64', 'nope'),
    ackmode: fc.constantFrom('ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false', 'bad'),
    count: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.string()),
    encoding: fc.constantFrom('auto', 'base64', 'x'),
    properties: fc.oneof(fc.object({ maxDepth: 1 }), fc.constant([])),
  }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
);

describe('management API fuzz', { skip: skipUnderReference }, () => {
  let broker: TestBroker;
  let api: ManagementApi;
  before(async () => {
    broker = await startTestBroker();
    api = new ManagementApi(`http://127.0.0.1:${broker.handle.httpPort}`);
  });
  after(async () => {
    await broker?.close();
  });

  it('answers random requests with a status below 500 and RabbitMQ\'s error shape, and keeps serving', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD'), path, body, async (method, p, b) => {
        const r = await api.request(method, p, undefined, b === undefined ? {} : { raw: b });
        assert.ok(r.status >= 200 && r.status < 500, `${method} ${p} ${b ?? ''}: ${r.status} ${r.text.slice(0, 300)}`);
        if (r.status >= 400 && r.text !== '') {
          const e = r.json<{ error: unknown; reason: unknown }>();
          assert.equal(typeof e.error, 'string');
          assert.equal(typeof e.reason, 'string');
        }
      }),
      { numRuns: 400, seed: 14 },
    );
    assert.equal((await api.get('/api/overview')).status, 200);
    const conn = await amqp.connect(broker.url);
    const ch = await conn.createChannel();
    await ch.assertQueue('', { exclusive: true });
    await conn.close();
  });
});
