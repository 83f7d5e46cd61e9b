// Fuzzing the AMQP input path: whatever bytes a peer sends, FrameParser,
// CommandAssembler and the decoders behind them only ever report
// AmqpProtocolError; no other exception escapes and nothing loops forever
// (every run is synchronous, so a hang would fail the test by its timeout).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AmqpProtocolError,
  CommandAssembler,
  FRAME_HEARTBEAT,
  FrameParser,
  FrameWriter,
  METHOD_NAMES,
  PROTOCOL_HEADER,
  decodeMethod,
  decodeProperties,
  decodeTable,
  encodeMethod,
  encodeProperties,
  encodeTable,
  hasContent,
  methodIds,
  type Command,
  type Method,
} from '../../src/protocol/amqp/index.js';
import { anyMethod, basicPropertiesArbitrary, fieldTable, frame } from '../unit/protocol/arbitraries.js';

const TIMEOUT_MS = 120_000;

interface Outcome {
  commands: Command[];
  errors: AmqpProtocolError[];
}

function assertProtocolError(e: unknown): asserts e is AmqpProtocolError {
  if (!(e instanceof AmqpProtocolError)) assert.fail(`expected only AmqpProtocolError, got ${e instanceof Error ? e.stack : String(e)}`);
  assert.ok(e.replyCode >= 300 && e.replyCode < 600, `reply code ${e.replyCode}`);
}

/** Runs chunks through the server's input path: parser, assembler, and property decoding of each command. */
function feed(chunks: Buffer[], frameMax: number): Outcome {
  const out: Outcome = { commands: [], errors: [] };
  const record = (e: unknown): void => {
    assertProtocolError(e);
    out.errors.push(e);
  };
  const asm = new CommandAssembler((c) => {
    out.commands.push(c);
    if (c.header === undefined) return;
    try {
      decodeProperties(c.header.rawProperties);
    } catch (e) {
      record(e);
    }
  }, 1 << 20);
  const parser = new FrameParser(
    {
      onProtocolHeader: () => {},
      onFrame: (f) => {
        if (f.type === FRAME_HEARTBEAT) return;
        try {
          asm.handleFrame(f); // keep going after errors to reach more assembler states
        } catch (e) {
          record(e);
        }
      },
      onError: record,
    },
    frameMax,
  );
  for (const c of chunks) parser.push(c);
  return out;
}

/** Splits a buffer at the given positions (taken modulo its length). */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (buf.length === 0 ? 0 : c % (buf.length + 1))))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(buf.subarray(from, p));
    from = p;
  }
  chunks.push(buf.subarray(from));
  return chunks;
}

const garbage = fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u));
const cuts = fc.array(fc.nat(), { maxLength: 12 });
const frameMax = fc.constantFrom(0, 4096, 131072);

/** Frames with a valid envelope but random content: they reach the assembler and decoders. */
const frameShaped = fc
  .array(
    fc.tuple(
      fc.constantFrom(1, 1, 2, 3, 8),
      fc.nat(3),
      fc.oneof(
        garbage,
        fc.tuple(fc.constantFrom(...METHOD_NAMES), garbage).map(([name, rest]) => {
          const ids = Buffer.alloc(4);
          ids.writeUInt16BE(methodIds(name).classId, 0);
          ids.writeUInt16BE(methodIds(name).methodId, 2);
          return Buffer.concat([ids, rest.subarray(0, 64)]);
        }),
      ),
    ),
    { maxLength: 12 },
  )
  .map((frames) => Buffer.concat(frames.map(([type, channel, payload]) => frame(type, channel, payload))));

/** A valid client stream: methods, with a content header and body after content-bearing ones. */
const validStream = fc
  .array(fc.tuple(anyMethod, fc.nat(3), basicPropertiesArbitrary(), fc.nat(9000)), { minLength: 1, maxLength: 8 })
  .map((items) => {
    const w = new FrameWriter(4096);
    for (const [m, channel, props, bodySize] of items) {
      w.method(channel, m);
      if (hasContent(m.name)) w.content(channel, 60, encodeProperties(props), Buffer.alloc(bodySize, 0x5a));
    }
    return { bytes: Buffer.concat([PROTOCOL_HEADER, w.take() as Buffer]), methods: items.map(([m]) => m) };
  });

type Mutation = { at: number; kind: 'flip' | 'set' | 'insert' | 'delete'; value: number };
const mutations = fc.array(
  fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'set', 'insert', 'delete'), value: fc.nat(255) }),
  { minLength: 1, maxLength: 6 },
) as fc.Arbitrary<Mutation[]>;

function mutate(buf: Buffer, ops: Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const { at, kind, value } of ops) {
    const i = at % (b.length + 1);
    if (kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([value]), b.subarray(i)]);
    else if (i === b.length) continue;
    else if (kind === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    else if (kind === 'flip') b[i] ^= 1 << (value % 8);
    else b[i] = value;
  }
  return b;
}

test('random garbage after a valid protocol header only gives AmqpProtocolError', { timeout: TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(garbage, cuts, frameMax, (bytes, at, max) => {
      feed(split(Buffer.concat([PROTOCOL_HEADER, bytes]), at), max);
    }),
    { numRuns: 1500 },
  );
});

test('random garbage without a protocol header is refused at the header', { timeout: TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(garbage, cuts, (bytes, at) => {
      let verdicts = 0;
      const parser = new FrameParser({
        onProtocolHeader: (ok) => {
          verdicts++;
          assert.equal(ok, bytes.subarray(0, 8).equals(PROTOCOL_HEADER));
        },
        onFrame: () => {},
        onError: assertProtocolError,
      });
      for (const c of split(bytes, at)) parser.push(c);
      assert.ok(verdicts <= 1);
      if (bytes.length >= 8 || bytes.some((b, i) => b !== PROTOCOL_HEADER[i])) assert.equal(verdicts, 1);
      feed(split(bytes, at), 4096);
    }),
    { numRuns: 1500 },
  );
});

test('well-framed frames with random payloads only give AmqpProtocolError', { timeout: TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(frameShaped, cuts, frameMax, (bytes, at, max) => {
      feed(split(Buffer.concat([PROTOCOL_HEADER, bytes]), at), max);
    }),
    { numRuns: 1500 },
  );
});

test('valid streams give back their methods however they are split', { timeout: TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(validStream, cuts, ({ bytes, methods }, at) => {
      const out = feed(split(bytes, at), 4096);
      assert.deepEqual(out.errors, []);
      assert.deepEqual(
        out.commands.map((c) => c.method),
        methods,
      );
    }),
    { numRuns: 200 },
  );
});

test('random mutations of valid streams only give AmqpProtocolError', { timeout: TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(validStream, mutations, cuts, frameMax, ({ bytes }, ops, at, max) => {
      feed(split(mutate(bytes, ops), at), max);
    }),
    { numRuns: 1000 },
  );
});

test('decoders given random bytes only throw AmqpProtocolError', { timeout: TIMEOUT_MS }, () => {
  const attempt = (fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      assertProtocolError(e);
    }
  };
  fc.assert(
    fc.property(fc.constantFrom(...METHOD_NAMES), garbage, (name, rest) => {
      const { classId, methodId } = methodIds(name);
      const ids = Buffer.from([classId >> 8, classId & 0xff, methodId >> 8, methodId & 0xff]);
      attempt(() => decodeMethod(Buffer.concat([ids, rest.subarray(0, 300)])));
      attempt(() => decodeMethod(rest));
      attempt(() => decodeProperties(rest));
      attempt(() => decodeTable(rest, 0));
    }),
    { numRuns: 3000 },
  );
});

test('mutated method payloads, tables and properties only throw AmqpProtocolError', { timeout: TIMEOUT_MS }, () => {
  const attempt = (fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      assertProtocolError(e);
    }
  };
  fc.assert(
    fc.property(anyMethod, fieldTable, basicPropertiesArbitrary(), mutations, (m: Method, t, p, ops) => {
      attempt(() => decodeMethod(mutate(encodeMethod(m), ops)));
      attempt(() => decodeTable(mutate(encodeTable(t), ops), 0));
      attempt(() => decodeProperties(mutate(encodeProperties(p), ops)));
    }),
    { numRuns: 2000 },
  );
});
