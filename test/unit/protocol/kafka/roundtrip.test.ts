// Every API, every version, both directions: arbitrary data encodes and
// decodes back to itself, consuming exactly the bytes written; every strict
// prefix of an encoding and arbitrary garbage give a KafkaProtocolError and
// never another exception; left-out fields encode as their defaults.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  API_CODECS,
  API_TABLE,
  KafkaProtocolError,
  Reader,
  Writer,
  consumerProtocolAssignmentCodec,
  consumerProtocolSubscriptionCodec,
  requestHeaderCodec,
  responseHeaderCodec,
  type MessageCodec,
} from '../../../../src/protocol/kafka/index.js';
import { MODELS, defaultStruct, messageArbitrary, versionsOf } from './schemas.js';

const RUNS = Number(process.env.KAFKA_ROUNDTRIP_RUNS ?? 25);

interface Case {
  name: string;
  codec: MessageCodec<unknown>;
  schema: string;
}

const CASES: Case[] = [
  ...API_TABLE.flatMap((a) => {
    const c = API_CODECS[a.apiKey];
    return [
      { name: `${a.name}Request`, codec: c.request as MessageCodec<unknown>, schema: `${a.name}Request` },
      { name: `${a.name}Response`, codec: c.response as MessageCodec<unknown>, schema: `${a.name}Response` },
    ];
  }),
  { name: 'RequestHeader', codec: requestHeaderCodec as MessageCodec<unknown>, schema: 'RequestHeader' },
  { name: 'ResponseHeader', codec: responseHeaderCodec as MessageCodec<unknown>, schema: 'ResponseHeader' },
  { name: 'ConsumerProtocolSubscription', codec: consumerProtocolSubscriptionCodec as MessageCodec<unknown>, schema: 'ConsumerProtocolSubscription' },
  { name: 'ConsumerProtocolAssignment', codec: consumerProtocolAssignmentCodec as MessageCodec<unknown>, schema: 'ConsumerProtocolAssignment' },
];

function encode(codec: MessageCodec<unknown>, data: unknown, v: number): Buffer {
  const w = new Writer(64, false);
  codec.write(w, data as never, v);
  return w.toBuffer();
}

function decodeAll(codec: MessageCodec<unknown>, bytes: Buffer, v: number): unknown {
  const r = new Reader(bytes);
  const out = codec.read(r, v);
  assert.equal(r.pos, bytes.length, 'decode consumed exactly the encoded bytes');
  return out;
}

function expectProtocolError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof KafkaProtocolError, `expected KafkaProtocolError, got ${String(e)}`);
    return;
  }
  assert.fail('decoding a truncated message succeeded');
}

test('the cases cover all 38 APIs, both directions, the headers and the consumer protocol', () => {
  assert.equal(API_TABLE.length, 38);
  assert.equal(CASES.length, 80);
  for (const c of CASES) assert.ok(MODELS.has(c.schema), c.schema);
});

for (const c of CASES) {
  const model = MODELS.get(c.name);
  if (model === undefined) throw new Error(`no schema ${c.name}`);
  test(`${c.name}: encode then decode gives the input back, versions ${model.validVersions.lo}-${model.validVersions.hi}`, () => {
    for (const v of versionsOf(model)) {
      fc.assert(
        fc.property(messageArbitrary(model, v), (data) => {
          const bytes = encode(c.codec, data, v);
          assert.deepStrictEqual(decodeAll(c.codec, bytes, v), data, `version ${v}`);
          // Re-encoding the decoded value gives the same bytes.
          assert.deepEqual(encode(c.codec, decodeAll(c.codec, bytes, v), v), bytes);
        }),
        { numRuns: RUNS },
      );
    }
  });

  test(`${c.name}: every truncation is a KafkaProtocolError`, () => {
    for (const v of versionsOf(model)) {
      fc.assert(
        fc.property(messageArbitrary(model, v), (data) => {
          const bytes = encode(c.codec, data, v);
          for (let n = 0; n < bytes.length; n++) expectProtocolError(() => c.codec.read(new Reader(bytes.subarray(0, n)), v));
        }),
        { numRuns: 3 },
      );
    }
  });

  test(`${c.name}: garbage decodes or fails with a KafkaProtocolError, never another exception`, () => {
    for (const v of versionsOf(model)) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (u) => {
          try {
            c.codec.read(new Reader(Buffer.from(u)), v);
          } catch (e) {
            assert.ok(e instanceof KafkaProtocolError, `version ${v}: ${String(e)}`);
          }
        }),
        { numRuns: 30 },
      );
    }
  });

  test(`${c.name}: an empty input object encodes every field as its default`, () => {
    for (const v of versionsOf(model)) {
      assert.deepStrictEqual(decodeAll(c.codec, encode(c.codec, {}, v), v), defaultStruct(model.root), `version ${v}`);
    }
  });
}
