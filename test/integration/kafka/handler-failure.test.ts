// A handler that throws or rejects (a bug, an unexpected storage failure) must not take the
// process or the connection down: as Kafka's KafkaApis.handle does, the request is answered
// with its API's error response, UNKNOWN_SERVER_ERROR in every part it named, and the
// connection goes on serving. The handlers here fail on purpose; the connection is the real one.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, type ApiKeyNumber } from '../../../src/protocol/kafka/index.js';
import { KafkaConnection } from '../../../src/server/kafka/connection.js';
import type { Handler, KafkaContext } from '../../../src/server/kafka/context.js';
import { ERROR_RESPONSE_APIS } from '../../../src/server/kafka/error-responses.js';
import { HANDLERS } from '../../../src/server/kafka/handlers/index.js';
import { SUPPORTED_VERSIONS } from '../../../src/server/kafka/versions.js';
import { createLogger } from '../../../src/util/logger.js';
import { RawKafka } from '../../helpers/raw-kafka.js';
import { testBatch, values } from '../../helpers/kafka-batch.js';

describe('kafka: failing handlers', () => {
  let server: Server;
  let port: number;
  before(async () => {
    const handlers = new Map<number, Handler<ApiKeyNumber>>([
      [3, (() => {
        throw new Error('metadata exploded');
      }) as unknown as Handler<ApiKeyNumber>],
      [0, (async () => Promise.reject(new Error('produce exploded'))) as unknown as Handler<ApiKeyNumber>],
      [60, (() => ({ brokers: [null] })) as unknown as Handler<ApiKeyNumber>],
    ]);
    const ctx = { logger: createLogger('silent'), config: { requestBytesMax: 1 << 20, saslMechanisms: [] } } as unknown as KafkaContext;
    server = createServer((s) => new KafkaConnection(s, ctx, handlers, 'c', () => {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    RawKafka.destroyAll();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('every API Wharf serves has an error response', () => {
    for (const apiKey of HANDLERS.keys()) assert.ok(ERROR_RESPONSE_APIS.includes(apiKey), `api key ${apiKey}`);
    for (const apiKey of SUPPORTED_VERSIONS.keys()) if (apiKey !== 18) assert.ok(ERROR_RESPONSE_APIS.includes(apiKey), `api key ${apiKey}`);
  });

  test('a throwing handler is answered with UNKNOWN_SERVER_ERROR and the connection carries on', async () => {
    const raw = await RawKafka.open(port);
    const md = await raw.call(3, 9, { topics: [{ name: 'a' }, { name: 'b' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(md.topics.map((t) => [t.name, t.errorCode]), [['a', ErrorCode.UNKNOWN_SERVER_ERROR], ['b', ErrorCode.UNKNOWN_SERVER_ERROR]]);
    const produced = await raw.call(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: 't', partitionData: [{ index: 0, records: testBatch(values(1)) }, { index: 1, records: testBatch(values(1)) }] }],
    });
    assert.deepEqual(produced.responses[0].partitionResponses.map((p) => [p.index, p.errorCode, p.baseOffset]), [[0, ErrorCode.UNKNOWN_SERVER_ERROR, -1n], [1, ErrorCode.UNKNOWN_SERVER_ERROR, -1n]]);
    // A response the codec cannot encode becomes the error response too.
    const cluster = await raw.call(60, 0, { includeClusterAuthorizedOperations: false });
    assert.equal(cluster.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
    // Still the same connection, still answering.
    const versions = await raw.call(18, 2, {});
    assert.equal(versions.errorCode, ErrorCode.NONE);
    assert.equal(raw.isClosed, false);
  });
});
