// The frame parser must give the same frames however the stream is split,
// refuse oversized frames before buffering them, and the request header must
// decode for unknown api keys and versions so the server can answer them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ApiKey,
  KafkaFrameParser,
  KafkaProtocolError,
  concatFrame,
  decodeRequest,
  decodeRequestHeader,
  encodeRequest,
  encodeResponse,
  ErrorCode,
} from '../../../../src/protocol/kafka/index.js';

interface Recorded {
  frames: Buffer[];
  errors: KafkaProtocolError[];
}

function parse(chunks: Buffer[], max?: number): Recorded {
  const events: Recorded = { frames: [], errors: [] };
  const parser = new KafkaFrameParser({ onFrame: (f) => events.frames.push(Buffer.from(f)), onError: (e) => events.errors.push(e) }, max);
  for (const c of chunks) parser.push(c);
  return events;
}

const FRAMES = [
  concatFrame(encodeRequest(ApiKey.ApiVersions, 3, 1, 'wharf-test', { clientSoftwareName: 'wharf', clientSoftwareVersion: '0.1' })),
  concatFrame(encodeRequest(ApiKey.Metadata, 12, 2, null, { topics: [{ name: 'orders' }], allowAutoTopicCreation: false })),
  concatFrame(encodeRequest(ApiKey.Produce, 3, 3, 'c', { acks: -1, timeoutMs: 30000, topicData: [{ name: 't', partitionData: [{ index: 0, records: Buffer.alloc(300, 1) }] }] })),
  Buffer.from([0, 0, 0, 0]), // an empty frame is a frame (its header decode fails later)
];
const STREAM = Buffer.concat(FRAMES);
const EXPECTED: Recorded = { frames: FRAMES.map((f) => f.subarray(4)), errors: [] };

test('whole frames in one chunk', () => {
  assert.deepEqual(parse([STREAM]), EXPECTED);
});

test('byte-by-byte feeding gives the same frames', () => {
  assert.deepEqual(parse([...STREAM].map((b) => Buffer.from([b]))), EXPECTED);
});

test('every split offset gives identical frames', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(parse([STREAM.subarray(0, i), STREAM.subarray(i)]), EXPECTED, `split at ${i}`);
  }
});

test('arbitrary splits into many chunks give identical frames', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(STREAM.length), { maxLength: 12 }), (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), STREAM.length];
      const chunks = points.slice(1).map((end, i) => STREAM.subarray(points[i], end));
      assert.deepEqual(parse(chunks), EXPECTED);
    }),
  );
});

test('a frame within one chunk is a zero-copy slice of it', () => {
  let frame: Buffer | undefined;
  new KafkaFrameParser({ onFrame: (f) => (frame = f), onError: assert.fail }).push(FRAMES[0]);
  assert.ok(frame !== undefined);
  assert.equal(frame.buffer, FRAMES[0].buffer);
  assert.equal(frame.byteOffset, FRAMES[0].byteOffset + 4);
});

test('an oversized frame is refused from its size alone, and nothing after it is parsed', () => {
  const size = Buffer.from([0, 0, 0x10, 0]); // 4096
  const events = parse([size, Buffer.alloc(10), FRAMES[0]], 4095);
  assert.deepEqual(events.frames, []);
  assert.equal(events.errors.length, 1);
  assert.equal(events.errors[0].errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.match(events.errors[0].message, /4096 bytes is larger than the maximum 4095/);
  // A frame of exactly the maximum passes.
  assert.equal(parse([size, Buffer.alloc(4096)], 4096).frames.length, 1);
});

test('the parser holds no more than the frame it is collecting', () => {
  const parser = new KafkaFrameParser({ onFrame: () => {}, onError: assert.fail }, 1 << 20);
  parser.push(Buffer.from([0, 0, 1, 0]));
  parser.push(Buffer.alloc(100));
  assert.equal(parser.bufferedBytes, 100);
  parser.push(Buffer.alloc(156));
  assert.equal(parser.bufferedBytes, 0);
});

test('a negative size is an INVALID_REQUEST error', () => {
  const events = parse([Buffer.from([0xff, 0xff, 0xff, 0xfe])]);
  assert.equal(events.errors.length, 1);
  assert.equal(events.errors[0].errorCode, ErrorCode.INVALID_REQUEST);
});

test('request header v1 and v2: api key, version, correlation id, client id, body offset', () => {
  const v1 = decodeRequestHeader(FRAMES[2].subarray(4));
  assert.deepEqual(
    { ...v1 },
    { apiKey: 0, apiVersion: 3, correlationId: 3, clientId: 'c', supported: true, headerVersion: 1, bodyOffset: 11 },
  );
  const v2 = decodeRequestHeader(FRAMES[1].subarray(4));
  assert.deepEqual({ ...v2 }, { apiKey: 3, apiVersion: 12, correlationId: 2, clientId: null, supported: true, headerVersion: 2, bodyOffset: 11 });
});

test('an unknown api key decodes as header v1 and is refused with its correlation id', () => {
  const frame = Buffer.from([0x03, 0xe7, 0, 1, 0, 0, 0, 42, 0, 1, 0x78, 0xde, 0xad]);
  const h = decodeRequestHeader(frame);
  assert.deepEqual({ ...h }, { apiKey: 999, apiVersion: 1, correlationId: 42, clientId: 'x', supported: false, headerVersion: 1, bodyOffset: 11 });
  assert.throws(
    () => decodeRequest(frame),
    (e: unknown) => e instanceof KafkaProtocolError && e.errorCode === ErrorCode.UNSUPPORTED_VERSION && e.correlationId === 42,
  );
});

test('a future ApiVersions version reads as header v2 and can be answered in v0 (KIP-511)', () => {
  // ApiVersions v9: flexible (3+ is open-ended), so the header has tagged fields.
  const frame = Buffer.from([0, 18, 0, 9, 0, 0, 0, 5, 0, 3, 0x61, 0x62, 0x63, 0, 0xaa, 0xbb]);
  const h = decodeRequestHeader(frame);
  assert.equal(h.supported, false);
  assert.equal(h.headerVersion, 2);
  assert.equal(h.clientId, 'abc');
  assert.equal(h.bodyOffset, 14);
  const reply = concatFrame(encodeResponse(ApiKey.ApiVersions, 0, h.correlationId, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }] }));
  assert.deepEqual(reply, Buffer.from([0, 0, 0, 16, 0, 0, 0, 5, 0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4]));
});

test('truncated headers are INVALID_REQUEST, with the correlation id once it is known', () => {
  const full = FRAMES[0].subarray(4);
  for (let n = 0; n < 8; n++) {
    assert.throws(() => decodeRequestHeader(full.subarray(0, n)), (e: unknown) => e instanceof KafkaProtocolError && e.correlationId === undefined);
  }
  for (let n = 8; n < 8 + 2 + 'wharf-test'.length + 1; n++) {
    assert.throws(
      () => decodeRequestHeader(full.subarray(0, n)),
      (e: unknown) => e instanceof KafkaProtocolError && e.errorCode === ErrorCode.INVALID_REQUEST && e.correlationId === 1,
      `length ${n}`,
    );
  }
});

test('a truncated or garbage body is INVALID_REQUEST with the correlation id', () => {
  const full = FRAMES[2].subarray(4);
  for (let n = 11; n < full.length; n++) {
    assert.throws(
      () => decodeRequest(full.subarray(0, n)),
      (e: unknown) => e instanceof KafkaProtocolError && e.errorCode === ErrorCode.INVALID_REQUEST && e.correlationId === 3,
      `length ${n}`,
    );
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (u) => {
      try {
        decodeRequest(Buffer.from(u));
      } catch (e) {
        assert.ok(e instanceof KafkaProtocolError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});
