// The codecs against librdkafka 2.0 (Debian's kcat): a minimal stub on a
// loopback port answers with the codecs alone, so kcat's ApiVersions v3
// (flexible, header v2, answered with header v0), Metadata and Produce requests
// are decoded, and kcat accepting the answers shows the encodings are right.
// Produce carries librdkafka's own record batches in every codec (its snappy
// is a raw block, not xerial-framed).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import {
  API_TABLE,
  ApiKey,
  Compression,
  KafkaFrameParser,
  decodeRecords,
  decodeRequest,
  encodeResponse,
  readBatchHeader,
  splitBatches,
  type KafkaRecord,
  type KafkaRequest,
} from '../../../../src/protocol/kafka/index.js';

interface Stub {
  port: number;
  requests: KafkaRequest[];
  records: KafkaRecord[];
  compressions: number[];
  close(): Promise<void>;
}

/** Answers ApiVersions, Metadata (one topic "orders", one partition) and Produce. */
async function startStub(): Promise<Stub> {
  const stub: Stub = { port: 0, requests: [], records: [], compressions: [], close: async () => {} };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    const parser = new KafkaFrameParser({
      onFrame: (frame) => {
        const req = decodeRequest(frame);
        stub.requests.push(req);
        const reply = answer(req, stub);
        if (reply !== undefined) sock.write(Buffer.concat(reply));
      },
      onError: (e) => sock.destroy(e),
    });
    sock.on('data', (d: Buffer) => parser.push(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.port = (server.address() as net.AddressInfo).port;
  stub.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return stub;
}

function answer(req: KafkaRequest, stub: Stub): Buffer[] | undefined {
  const { apiVersion: v, correlationId: id } = req;
  switch (req.apiKey) {
    case ApiKey.ApiVersions:
      return encodeResponse(ApiKey.ApiVersions, v, id, {
        errorCode: 0,
        apiKeys: API_TABLE.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxStableVersion })),
      });
    case ApiKey.Metadata:
      return encodeResponse(ApiKey.Metadata, v, id, {
        brokers: [{ nodeId: 1, host: '127.0.0.1', port: stub.port, rack: null }],
        clusterId: 'wharf-test',
        controllerId: 1,
        topics: [
          {
            name: 'orders',
            partitions: [{ partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1] }],
          },
        ],
      });
    case ApiKey.Produce:
      for (const t of req.body.topicData) {
        for (const p of t.partitionData) {
          for (const batch of splitBatches(p.records ?? Buffer.alloc(0)).batches) {
            stub.compressions.push(readBatchHeader(batch).compression);
            stub.records.push(...decodeRecords(batch));
          }
        }
      }
      return encodeResponse(ApiKey.Produce, v, id, {
        responses: req.body.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: 0, baseOffset: 0n })),
        })),
      });
    default:
      return undefined;
  }
}

function kcat(args: string[], input?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    p.stdin.end(input ?? '');
  });
}

test('kcat -L: ApiVersions v3 and Metadata answers are understood by librdkafka', async () => {
  const stub = await startStub();
  try {
    const { code, output } = await kcat(['-b', `127.0.0.1:${stub.port}`, '-L', '-m', '5']);
    assert.equal(code, 0, output);
    assert.match(output, /topic "orders" with 1 partitions:/);
    assert.match(output, /partition 0, leader 1, replicas: 1, isrs: 1/);
    const first = stub.requests[0];
    assert.ok(first.apiKey === ApiKey.ApiVersions);
    assert.equal(first.apiVersion, 3);
    assert.equal(first.clientId, 'rdkafka');
    assert.equal(first.body.clientSoftwareName, 'librdkafka');
    assert.match(first.body.clientSoftwareVersion, /^2\./);
    assert.ok(stub.requests.some((r) => r.apiKey === ApiKey.Metadata));
  } finally {
    await stub.close();
  }
});

test('kcat -P: librdkafka record batches decode in every codec', async () => {
  const codecs: [string, number][] = [
    ['none', Compression.NONE],
    ['gzip', Compression.GZIP],
    ['snappy', Compression.SNAPPY],
    ['lz4', Compression.LZ4],
    ['zstd', Compression.ZSTD],
  ];
  for (const [name, codec] of codecs) {
    const stub = await startStub();
    try {
      const lines = Array.from({ length: 50 }, (_, i) => `${name} message ${i} ${'x'.repeat(i)}`);
      const { code, output } = await kcat(['-b', `127.0.0.1:${stub.port}`, '-P', '-t', 'orders', '-p', '0', '-z', name, '-K', ':'], lines.map((l, i) => `k${i}:${l}`).join('\n') + '\n');
      assert.equal(code, 0, output);
      assert.deepEqual(stub.records.map((r) => r.value?.toString()), lines, name);
      assert.deepEqual(stub.records.map((r) => r.key?.toString()), lines.map((_, i) => `k${i}`));
      // librdkafka sends a batch uncompressed when compressing would not make it smaller (a
      // batch of one short message, when the load splits the input): the rest use the codec.
      const used = `${name}: batches compressed with ${stub.compressions.join(',')}`;
      assert.ok(stub.compressions.every((c) => c === codec || c === Compression.NONE), used);
      assert.ok(stub.compressions.includes(codec), used);
    } finally {
      await stub.close();
    }
  }
});
