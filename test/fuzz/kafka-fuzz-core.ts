// Mutation fuzzing of a live Kafka listener, shared by the short seeded run in `npm test`
// (kafka-server-fuzz.test.ts) and the long campaign (scripts/kafka-fuzz.ts). Each case is one
// raw connection that sends 1-4 frames: requests generated from the schemas for every API and
// version Wharf serves (plus produce/fetch/list-offsets aimed at a real topic with real
// batches), each either left valid or mutated (bytes flipped, truncated, extended, size prefix
// changed, cut off mid-frame). The server must answer or close, never crash; answers to valid
// requests must decode and carry no UNKNOWN_SERVER_ERROR (that code means a Wharf bug); and a
// well-behaved client connected all along must still work after every case.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { API_TABLE, decodeResponse, encodeRequest, type ApiKeyNumber } from '../../src/protocol/kafka/index.js';
import { HANDLERS } from '../../src/server/kafka/handlers/index.js';
import { SUPPORTED_VERSIONS } from '../../src/server/kafka/versions.js';
import { testBatch, values } from '../helpers/kafka-batch.js';
import { RawKafka } from '../helpers/raw-kafka.js';
import { MODELS, messageArbitrary } from '../unit/protocol/kafka/schemas.js';

export const FUZZ_TOPIC = 'kafka-fuzz';
const UNKNOWN_SERVER_ERROR = -1;
/** How long a case waits for more answers once the server goes quiet. */
const QUIET_MS = 150;

interface Request {
  apiKey: number;
  version: number;
  /** Size-prefixed frame. */
  frame: Buffer;
  /** Produce with acks=0 gets no response. */
  silent: boolean;
}

interface Sent extends Request {
  mutation: string;
}

export interface FuzzStats {
  cases: number;
  frames: number;
  mutated: number;
  responses: number;
  closedByServer: number;
  /** Cases where the server neither answered every valid request nor closed (long polls, acks=0). */
  quiet: number;
  byApi: Map<string, number>;
  byMutation: Map<string, number>;
}

export function newStats(): FuzzStats {
  return { cases: 0, frames: 0, mutated: 0, responses: 0, closedByServer: 0, quiet: 0, byApi: new Map(), byMutation: new Map() };
}

/** Every (api key, version) the listener serves. */
function served(): { apiKey: number; version: number; name: string }[] {
  const out = [];
  for (const [apiKey, range] of SUPPORTED_VERSIONS) {
    if (apiKey !== 18 && !HANDLERS.has(apiKey)) continue;
    const name = API_TABLE.find((a) => a.apiKey === apiKey)?.name;
    if (!name) continue;
    for (let version = range.min; version <= range.max; version++) out.push({ apiKey, version, name });
  }
  return out;
}

function frameOf(apiKey: number, version: number, correlationId: number, body: unknown): Buffer {
  return Buffer.concat(encodeRequest(apiKey as ApiKeyNumber, version, correlationId, 'fuzz', body as never));
}

/** A request of any served API and version with schema-generated contents. */
const generated: fc.Arbitrary<Request> = fc
  .constantFrom(...served())
  .chain(({ apiKey, version, name }) => {
    const model = MODELS.get(`${name}Request`);
    if (!model) throw new Error(`no schema for ${name}Request`);
    return fc.tuple(fc.constant({ apiKey, version }), messageArbitrary(model, version), fc.integer({ min: 0, max: 0x7fffffff }));
  })
  .map(([{ apiKey, version }, body, cid]) => {
    // Long polls are cut short so a case does not wait on them; the rest is as generated.
    if (apiKey === 1) body.maxWaitMs = Math.min(Number(body.maxWaitMs), 50);
    return { apiKey, version, frame: frameOf(apiKey, version, cid, body), silent: apiKey === 0 && body.acks === 0 };
  });

const partitionIndex = fc.constantFrom(0, 1, 2, -1);

/** Requests aimed at the fuzz topic with real batches and offsets, so mutations reach the log. */
const targeted: fc.Arbitrary<Request> = fc.oneof(
  fc
    .record({
      version: fc.integer({ min: 3, max: 11 }),
      acks: fc.constantFrom(-1, 1, 0, 2),
      index: partitionIndex,
      n: fc.integer({ min: 1, max: 5 }),
      pid: fc.constantFrom(-1, 1, 2),
      seq: fc.integer({ min: 0, max: 20 }),
    })
    .map(({ version, acks, index, n, pid, seq }) => ({
      apiKey: 0,
      version,
      silent: acks === 0,
      frame: frameOf(0, version, 1, {
        transactionalId: null,
        acks,
        timeoutMs: 1000,
        topicData: [{ name: FUZZ_TOPIC, partitionData: [{ index, records: testBatch(values(n), pid < 0 ? {} : { producerId: pid, producerEpoch: 0, baseSequence: seq }) }] }],
      }),
    })),
  fc
    .record({ version: fc.integer({ min: 4, max: 12 }), index: partitionIndex, offset: fc.bigInt({ min: -2n, max: 200n }), maxBytes: fc.integer({ min: 0, max: 1 << 20 }) })
    .map(({ version, index, offset, maxBytes }) => ({
      apiKey: 1,
      version,
      silent: false,
      frame: frameOf(1, version, 2, {
        replicaId: -1,
        maxWaitMs: 20,
        minBytes: 1,
        maxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: FUZZ_TOPIC, partitions: [{ partition: index, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: maxBytes }] }],
        forgottenTopicsData: [],
        rackId: '',
      }),
    })),
  fc
    .record({ version: fc.integer({ min: 1, max: 10 }), index: partitionIndex, ts: fc.bigInt({ min: -5n, max: 2n ** 42n }) })
    .map(({ version, index, ts }) => ({
      apiKey: 2,
      version,
      silent: false,
      frame: frameOf(2, version, 3, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: FUZZ_TOPIC, partitions: [{ partitionIndex: index, currentLeaderEpoch: -1, timestamp: ts, maxNumOffsets: 1 }] }],
        timeoutMs: 1000,
      }),
    })),
);

type Mutate = (f: Buffer) => Buffer;

function withSize(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** How a frame is damaged (or not): each returns a new frame. */
const mutations: fc.Arbitrary<[string, Mutate]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<[string, Mutate]>(['none', (f) => f]) },
  {
    weight: 4,
    arbitrary: fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), count: fc.integer({ min: 1, max: 4 }) }).map(
      ({ at, xor, count }): [string, Mutate] => [
        'flip',
        (f) => {
          const g = Buffer.from(f);
          // Leave the size prefix alone: the body is damaged, not its framing.
          for (let i = 0; i < count; i++) if (g.length > 4) g[4 + ((at + i * 13) % (g.length - 4))] ^= xor;
          return g;
        },
      ],
    ),
  },
  {
    weight: 2,
    arbitrary: fc.nat().map((at): [string, Mutate] => ['truncate', (f) => withSize(f.subarray(4, 4 + (at % Math.max(1, f.length - 4))))]),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }).map((extra): [string, Mutate] => ['extend', (f) => withSize(Buffer.concat([f.subarray(4), Buffer.from(extra)]))]),
  },
  {
    weight: 1,
    arbitrary: fc.record({ at: fc.nat(), len: fc.integer({ min: 1, max: 8 }), byte: fc.constantFrom(0x00, 0xff, 0x7f, 0x80) }).map(
      ({ at, len, byte }): [string, Mutate] => [
        'fill',
        (f) => {
          const g = Buffer.from(f);
          const start = 4 + (at % Math.max(1, g.length - 4));
          g.fill(byte, start, Math.min(g.length, start + len));
          return g;
        },
      ],
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer().map((size): [string, Mutate] => [
      'size',
      (f) => {
        const g = Buffer.from(f);
        g.writeInt32BE(size, 0);
        return g;
      },
    ]),
  },
  { weight: 1, arbitrary: fc.nat().map((at): [string, Mutate] => ['cut', (f) => f.subarray(0, at % f.length)]) },
);

/** One case: up to four frames on one connection. */
export const fuzzCase: fc.Arbitrary<Sent[]> = fc.array(
  fc.tuple(fc.oneof({ weight: 3, arbitrary: generated }, { weight: 2, arbitrary: targeted }), mutations).map(([req, [name, mutate]]) => ({ ...req, frame: mutate(req.frame), mutation: name })),
  { minLength: 1, maxLength: 4 },
);

function hasUnknownServerError(x: unknown, depth = 0): boolean {
  if (depth > 8 || x === null || typeof x !== 'object' || Buffer.isBuffer(x)) return false;
  if ('errorCode' in x && (x as { errorCode: unknown }).errorCode === UNKNOWN_SERVER_ERROR) return true;
  return Object.values(x).some((v) => hasUnknownServerError(v, depth + 1));
}

/** Sends one case on a fresh connection and checks what comes back. */
export async function runCase(port: number, sent: Sent[], stats: FuzzStats): Promise<void> {
  stats.cases++;
  const raw = await RawKafka.open(port);
  for (const s of sent) {
    stats.frames++;
    if (s.mutation !== 'none') stats.mutated++;
    const api = API_TABLE.find((a) => a.apiKey === s.apiKey)?.name ?? String(s.apiKey);
    stats.byApi.set(api, (stats.byApi.get(api) ?? 0) + 1);
    stats.byMutation.set(s.mutation, (stats.byMutation.get(s.mutation) ?? 0) + 1);
    raw.write(s.frame);
  }
  // While every frame so far was valid, the answers come in order and must decode.
  const expected: Sent[] = [];
  for (const s of sent) {
    if (s.mutation !== 'none') break;
    if (!s.silent) expected.push(s);
  }
  let answered = 0;
  for (;;) {
    const f = await raw.next(QUIET_MS);
    if (!f) break;
    stats.responses++;
    const want = expected[answered++];
    if (want) {
      const { body }: { body: unknown } = decodeResponse(want.apiKey as ApiKeyNumber, want.version, f);
      assert.equal(hasUnknownServerError(body), false, `UNKNOWN_SERVER_ERROR answering api key ${want.apiKey} v${want.version}: ${JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
    }
  }
  if (raw.isClosed) stats.closedByServer++;
  else if (answered < expected.length) stats.quiet++;
  raw.destroy();
}
