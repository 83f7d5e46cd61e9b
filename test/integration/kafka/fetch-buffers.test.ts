// Fetch responses are views of pooled read buffers (server/kafka/read-buffers.ts), given back
// only once the socket has taken the response. A consumer that does not read its socket keeps a
// large response waiting in the broker while other consumers fetch the same data over and over:
// if a buffer went back early, their reads would overwrite the waiting response and its batches
// would fail their CRC or carry the wrong records.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KafkaClient } from '../../../src/client/kafka/index.js';
import {
  KafkaFrameParser,
  buildRecordBatchSync,
  checkBatch,
  decodeRecords,
  decodeResponse,
  encodeRequest,
  splitBatches,
} from '../../../src/protocol/kafka/index.js';
import { TEST_OPTS, sleep, withTimeout } from '../../helpers/async.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';

const BATCHES = 1000;
const PER_BATCH = 100;
const VALUE_BYTES = 100;

function value(offset: number): Buffer {
  return Buffer.from(`record ${offset} `.padEnd(VALUE_BYTES, String.fromCharCode(65 + (offset % 26))));
}

/** Every batch whole and valid, every record the one produced at its offset; returns the next offset. */
function verify(records: Buffer, from: number): number {
  let next = from;
  for (const b of splitBatches(records, true).batches) {
    checkBatch(b);
    for (const r of decodeRecords(b)) {
      assert.equal(Number(r.offset), next, 'offsets are contiguous');
      assert.deepEqual(r.value, value(next));
      next++;
    }
  }
  return next;
}

describe('fetch read buffers', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let bootstrap: string;
  let client: KafkaClient;
  const topic = topicName('buffers');

  before(async () => {
    broker = await startTestBroker();
    bootstrap = broker.handle.kafkaBootstrap;
    client = await KafkaClient.connect(bootstrap);
    await client.createTopic(topic, 1);
    const conn = await client.leader(topic, 0);
    // Pipelined: the broker appends in request order, so batch b gets offsets b * PER_BATCH on.
    const answers = [];
    for (let b = 0; b < BATCHES; b++) {
      const records = Array.from({ length: PER_BATCH }, (_, i) => ({ value: value(b * PER_BATCH + i) }));
      answers.push(KafkaClient.produce(conn, { topic, acks: -1, partitions: [{ partition: 0, records: buildRecordBatchSync({ records }) }] }));
    }
    for (const a of await Promise.all(answers)) assert.equal(a?.[0].errorCode, 0);
  });
  after(async () => {
    await client?.close();
    await broker?.close();
  });

  it('a response waiting in an unread socket is not overwritten by other fetches', TEST_OPTS, async () => {
    // A raw connection asks for everything in one response, then does not read for a while.
    const socket: Socket = connect({ host: '127.0.0.1', port: Number(bootstrap.split(':')[1]) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.pause();
    const request = encodeRequest(1, 12, 1, 'slow', {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 64 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 64 << 20, currentLeaderEpoch: -1, logStartOffset: -1n }] }],
      forgottenTopicsData: [], rackId: '',
    });
    for (const chunk of request) socket.write(chunk);
    await sleep(200);

    // Meanwhile three consumers read the topic again and again, in one fetch (the size of buffer
    // the waiting response uses) and in small ones.
    const conns = await Promise.all([0, 1, 2].map(async () => (await KafkaClient.connect(bootstrap)).leader(topic, 0)));
    await Promise.all(conns.map(async (conn, i) => {
      // Starting elsewhere than 0, their reads put other bytes where the waiting response's are.
      for (const maxBytes of [64 << 20, 20_000 + i * 7_000, 64 << 20]) {
        let offset = (i + 1) * 1_000;
        while (offset < BATCHES * PER_BATCH) {
          const [p] = await KafkaClient.fetch(conn, { topic, partitions: [{ partition: 0, offset, maxBytes }], maxWaitMs: 0, minBytes: 0, maxBytes });
          assert.equal(p.errorCode, 0);
          offset = verify(p.records ?? Buffer.alloc(0), offset);
        }
      }
    }));

    // Now the slow consumer reads its response: every batch intact.
    const frame = await withTimeout(new Promise<Buffer>((resolve) => {
      const parser = new KafkaFrameParser({ onFrame: resolve, onError: () => undefined });
      socket.on('data', (chunk: Buffer) => parser.push(chunk));
      socket.resume();
    }), 10_000, 'the slow response');
    socket.destroy();
    const res = decodeResponse(1, 12, frame).body;
    const records = res.responses[0].partitions[0].records ?? Buffer.alloc(0);
    assert.ok(records.length > 10_000_000, `one big response (${records.length} bytes), more than the socket buffers hold`);
    assert.equal(verify(records, 0), BATCHES * PER_BATCH);
  });
});
