// The AMQP fuzz campaign (docs/limits.md), shared by scripts/fuzz-amqp.ts (the
// long run, a million frames) and test/fuzz/amqp-campaign.test.ts (a short
// seeded run in npm test). Many sockets, authenticated and not, send frames
// generated from the codecs' own field tables (METHOD_FIELDS) and then mutated:
// bit flips, truncations, wrong frame types, huge sizes, unknown class/method
// ids, content out of order, random bytes, half-closed and dropped sockets.
// Meanwhile a few amqplib clients publish with confirms and consume, checking
// every message. Everything comes from one seed, so a run can be repeated.

import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { seededRandom } from '../../src/util/random.js';
import {
  METHOD_FIELDS,
  encodeMethod,
  encodeProperties,
  hasContent,
  type FieldTable,
  type FieldWireType,
  type Method,
  type MethodName,
} from '../../src/protocol/amqp/index.js';

export interface FuzzOptions {
  readonly host: string;
  readonly port: number;
  readonly seed: number;
  /** Frames to send in all (each generated or mutated frame, or blob of random bytes, counts as one). */
  readonly frames: number;
  /** Fuzzing sockets open at once. */
  readonly concurrency: number;
  /** amqplib clients publishing and consuming throughout. */
  readonly correctClients: number;
  /** Called every `progressEvery` frames. */
  readonly progress?: (s: FuzzStats) => void;
  /** Reads the broker's RSS (bytes), when it is a process we can see. */
  readonly rss?: () => number | undefined;
  /** True once the broker process has gone (a crash). */
  readonly crashed?: () => boolean;
}

export interface FuzzStats {
  frames: number;
  connections: number;
  authenticated: number;
  /** Sockets the server closed (after connection.close, or at once). */
  closedByServer: number;
  /** connection.close / channel.close frames received, by reply code. */
  replyCodes: Map<number, number>;
  byMutation: Map<string, number>;
  correctPublished: number;
  correctConsumed: number;
  correctErrors: string[];
  rssMinBytes: number;
  rssMaxBytes: number;
  crashes: number;
  seconds: number;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same campaign. */
export class Rng {
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = seededRandom(seed);
  }
  next(): number {
    return this.random();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// --- frame generation ---------------------------------------------------------

const FRAME_END = 0xce;
const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
const ALL_METHODS = Object.keys(METHOD_FIELDS) as MethodName[];
/** What a client sends on channels (server-to-client methods are in ALL_METHODS too, for confusion). */
const CHANNEL_METHODS = ALL_METHODS.filter((n) => !n.startsWith('connection.'));
const NAMES = ['', 'amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'fuzz-q', 'fuzz-x', 'amq.rabbitmq.reply-to', 'a'.repeat(255), '#', '*.x'];
const ARG_KEYS = ['x-message-ttl', 'x-max-length', 'x-queue-type', 'x-dead-letter-exchange', 'x-expires', 'x-max-priority', 'x-overflow', 'alternate-exchange', 'x-delayed-type', 'x-stream-offset'];

export function frame(type: number, channel: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(8 + payload.length);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[7 + payload.length] = FRAME_END;
  return b;
}

function randomTable(rng: Rng, depth = 0): FieldTable {
  const t: Record<string, unknown> = {};
  const n = rng.int(4);
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.7) ? rng.pick(ARG_KEYS) : rng.bytes(rng.int(8)).toString('latin1');
    const kind = rng.int(depth < 2 ? 7 : 6);
    t[key] = [
      () => rng.int(2 ** 31) - (rng.chance(0.2) ? 2 ** 31 : 0),
      () => rng.pick(NAMES),
      () => rng.chance(0.5),
      () => rng.next() * 1e6,
      () => null,
      () => [rng.int(100), rng.pick(NAMES)],
      () => randomTable(rng, depth + 1),
    ][kind]();
  }
  return t as FieldTable;
}

function randomField(rng: Rng, type: FieldWireType, bytes: boolean | undefined): unknown {
  switch (type) {
    case 'bit':
      return rng.chance(0.3);
    case 'octet':
      return rng.int(256);
    case 'short':
      return rng.chance(0.8) ? rng.int(20) : rng.int(65536);
    case 'long':
      return rng.chance(0.8) ? rng.int(1000) : rng.int(2 ** 32);
    case 'longlong':
    case 'timestamp':
      return rng.chance(0.8) ? rng.int(100) : rng.int(2 ** 52);
    case 'shortstr':
      return rng.chance(0.8) ? rng.pick(NAMES) : rng.bytes(rng.int(40)).toString('latin1').slice(0, 255);
    case 'longstr':
      return bytes ? rng.bytes(rng.int(32)) : rng.pick(NAMES);
    case 'table':
      return randomTable(rng);
  }
}

/** A method with every field random but well-typed, encoded by the generated encoder. */
function randomMethodPayload(rng: Rng, name: MethodName): Buffer {
  const m: Record<string, unknown> = { name };
  for (const f of METHOD_FIELDS[name]) m[f.name] = randomField(rng, f.type, f.bytes);
  try {
    return encodeMethod(m as unknown as Method);
  } catch {
    // A value the encoder refuses (a shortstr over 255 bytes once encoded): the bare ids will do.
    const ids = encodeMethod({ name: 'channel.flow', active: true }).subarray(0, 4);
    return ids;
  }
}

function contentHeader(rng: Rng, bodySize: number): Buffer {
  const props = encodeProperties({
    deliveryMode: rng.chance(0.5) ? 2 : 1,
    ...(rng.chance(0.3) ? { headers: randomTable(rng) } : {}),
    ...(rng.chance(0.2) ? { expiration: String(rng.int(1000)) } : {}),
    ...(rng.chance(0.1) ? { priority: rng.int(256) } : {}),
    ...(rng.chance(0.1) ? { replyTo: rng.pick(NAMES) } : {}),
  });
  const head = Buffer.alloc(12);
  head.writeUInt16BE(60, 0);
  head.writeUInt32BE(Math.floor(bodySize / 2 ** 32), 4);
  head.writeUInt32BE(bodySize >>> 0, 8);
  return Buffer.concat([head, props]);
}

function channelOf(rng: Rng): number {
  return rng.chance(0.85) ? 1 + rng.int(3) : rng.chance(0.5) ? 0 : rng.int(65536);
}

/** A valid publish: method, content header, body frames. */
function publishFrames(rng: Rng, channel: number): Buffer[] {
  const m = randomMethodPayload(rng, 'basic.publish');
  const size = rng.chance(0.9) ? rng.int(300) : rng.int(200_000);
  const out = [frame(1, channel, m), frame(2, channel, contentHeader(rng, size))];
  for (let off = 0; off < size; off += 131_064) out.push(frame(3, channel, rng.bytes(Math.min(131_064, size - off))));
  return out;
}

/** A frame a correct client could send: a random method, or a publish's frames. */
function validFrames(rng: Rng): Buffer[] {
  const channel = channelOf(rng);
  if (rng.chance(0.35)) return publishFrames(rng, channel);
  const name = rng.chance(0.95) ? rng.pick(CHANNEL_METHODS) : rng.pick(ALL_METHODS);
  const frames = [frame(1, channel, randomMethodPayload(rng, name))];
  // Content-bearing methods the server never accepts from clients still get content sometimes.
  if (hasContent(name) && rng.chance(0.5)) frames.push(frame(2, channel, contentHeader(rng, 0)));
  return frames;
}

type Mutation = (rng: Rng, f: Buffer) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  bitflip: (rng, f) => {
    const b = Buffer.from(f);
    for (let i = 1 + rng.int(3); i > 0; i--) b[rng.int(b.length)] ^= 1 << rng.int(8);
    return b;
  },
  /** The payload cut short, size field adjusted: a frame that decodes past its end. */
  truncatePayload: (rng, f) => {
    const size = f.readUInt32BE(3);
    return frame(f[0], f.readUInt16BE(1), f.subarray(7, 7 + rng.int(size + 1)));
  },
  /** Bytes cut from the stream itself: the parser loses frame sync. */
  truncateRaw: (rng, f) => f.subarray(0, rng.int(f.length)),
  wrongType: (rng, f) => {
    const b = Buffer.from(f);
    b[0] = rng.pick([0, 1, 2, 3, 4, 8, 9, 65, 206, 255]);
    return b;
  },
  hugeSize: (rng, f) => {
    const b = Buffer.from(f);
    b.writeUInt32BE(rng.pick([0xffffffff, 0x7fffffff, 131_065, 131_064, 4_194_304, rng.int(2 ** 32)]), 3);
    return b;
  },
  unknownIds: (rng, f) => {
    const b = Buffer.from(f);
    if (b.length >= 11) {
      b.writeUInt16BE(rng.chance(0.5) ? rng.int(65536) : rng.pick([10, 20, 40, 50, 60, 85, 90]), 7);
      b.writeUInt16BE(rng.int(rng.chance(0.5) ? 200 : 65536), 9);
    }
    return b;
  },
  /** A field table's type tag replaced: a wrong or unknown field type. */
  wrongFieldType: (rng, f) => {
    const b = Buffer.from(f);
    for (let i = 11; i < b.length - 1; i++) {
      if (rng.chance(0.15)) b[i] = rng.pick([0x53, 0x46, 0x41, 0x74, 0x62, 0x73, 0x49, 0x6c, 0x64, 0x44, 0x78, 0x56, 0x00, 0xff, 0x54]);
    }
    return b;
  },
  /** A header frame without its method, or a body without its header. */
  outOfOrder: (rng, f) => {
    const channel = f.readUInt16BE(1);
    return rng.chance(0.5) ? frame(2, channel, contentHeader(rng, rng.int(100))) : frame(3, channel, rng.bytes(rng.int(64)));
  },
  badFrameEnd: (rng, f) => {
    const b = Buffer.from(f);
    b[b.length - 1] = rng.int(255);
    return b;
  },
  heartbeatOnChannel: (rng) => frame(8, 1 + rng.int(5), rng.bytes(rng.int(3))),
  randomBytes: (rng) => rng.bytes(1 + rng.int(64)),
};
const MUTATION_NAMES = Object.keys(MUTATIONS);

// --- sessions ---------------------------------------------------------------

function handshake(user: string, password: string, opts: { channelMax?: number; frameMax?: number } = {}): Buffer[] {
  const startOk = encodeMethod({
    name: 'connection.start-ok',
    clientProperties: { product: 'wharf-fuzz' },
    mechanism: 'PLAIN',
    response: Buffer.from(`\u0000${user}\u0000${password}`),
    locale: 'en_US',
  });
  const tuneOk = encodeMethod({ name: 'connection.tune-ok', channelMax: opts.channelMax ?? 2047, frameMax: opts.frameMax ?? 131072, heartbeat: 0 });
  const open = encodeMethod({ name: 'connection.open', virtualHost: '/', capabilities: '', insist: false });
  return [PROTOCOL_HEADER, frame(1, 0, startOk), frame(1, 0, tuneOk), frame(1, 0, open)];
}

interface SessionPlan {
  kind: 'authenticated' | 'bad-login' | 'no-login' | 'raw';
  /** Written one after the other, each once the server has gone quiet after the last. */
  parts: Buffer[];
  frames: number;
  /** How the client leaves: wait for the server, half-close (FIN), or drop. */
  ending: 'wait' | 'half-close' | 'destroy';
  /** Written in small pieces rather than all at once. */
  trickle: boolean;
}

function planSession(rng: Rng, maxFrames: number, stats: FuzzStats): SessionPlan {
  const r = rng.next();
  const kind: SessionPlan['kind'] = r < 0.7 ? 'authenticated' : r < 0.8 ? 'bad-login' : r < 0.9 ? 'no-login' : 'raw';
  let chunks: Buffer[] = [];
  const parts: Buffer[] = [];
  if (kind === 'authenticated') {
    chunks.push(...handshake('guest', 'guest'));
    for (let ch = 1; ch <= 3; ch++) chunks.push(frame(1, ch, encodeMethod({ name: 'channel.open', outOfBand: '' })));
    if (rng.chance(0.3)) chunks.push(frame(1, 1, encodeMethod({ name: 'confirm.select', nowait: false })));
  } else if (kind === 'bad-login') {
    chunks.push(...handshake('guest', rng.chance(0.5) ? 'wrong' : rng.bytes(8).toString('hex')));
  } else if (kind === 'no-login') {
    chunks.push(rng.chance(0.8) ? PROTOCOL_HEADER : rng.bytes(8));
  }
  let frames = 0;
  const burst = Math.min(maxFrames, 1 + rng.int(200));
  // Per session: some send only valid frames, so that the state machines behind the
  // first error get exercised too (one bad frame usually ends a connection).
  const mutationRate = rng.pick([0, 0.01, 0.05, 0.25, 0.5]);
  while (frames < burst) {
    const group = validFrames(rng);
    for (const f of group) {
      if (rng.chance(mutationRate)) {
        const name = rng.pick(MUTATION_NAMES);
        stats.byMutation.set(name, (stats.byMutation.get(name) ?? 0) + 1);
        chunks.push(MUTATIONS[name](rng, f));
      } else {
        chunks.push(f);
      }
      frames++;
      // Up to four parts: after each, the session answers the server's closes and reopens channels.
      if (chunks.length > 8 && rng.chance(0.02) && parts.length < 3) {
        parts.push(Buffer.concat(chunks));
        chunks = [];
      }
    }
  }
  parts.push(Buffer.concat(chunks));
  const e = rng.next();
  return { kind, parts, frames, ending: e < 0.6 ? 'wait' : e < 0.8 ? 'half-close' : 'destroy', trickle: rng.chance(0.1) };
}

/** Quiet time after which a waiting session gives up on the server's answer. */
const SESSION_IDLE_MS = 150;
/** Quiet time after which a session with more to send sends its next part. */
const PART_IDLE_MS = 30;
const CHANNEL_CLOSE_OK = encodeMethod({ name: 'channel.close-ok' });
const CHANNEL_OPEN = encodeMethod({ name: 'channel.open', outOfBand: '' });

function runSession(opts: FuzzOptions, plan: SessionPlan, stats: FuzzStats): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect({ host: opts.host, port: opts.port });
    let idle: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (idle) clearTimeout(idle);
      socket.destroy();
      resolve();
    };
    let next = 0;
    const writeNext = (): void => {
      const data = plan.parts[next++];
      if (plan.trickle) {
        for (let off = 0; off < data.length; off += 1 + (off % 97)) socket.write(data.subarray(off, off + 1 + (off % 97)));
      } else {
        socket.write(data);
      }
    };
    const onIdle = (): void => {
      if (next < plan.parts.length && !socket.writableEnded) {
        writeNext();
        armIdle();
      } else {
        finish();
      }
    };
    const armIdle = (): void => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(onIdle, next < plan.parts.length ? PART_IDLE_MS : SESSION_IDLE_MS);
    };
    socket.on('error', finish);
    socket.on('close', () => {
      if (!done) stats.closedByServer++;
      finish();
    });
    socket.on('data', (d: Buffer) => {
      // A closed channel is acknowledged and opened again, so the next part goes deeper.
      for (const ch of countCloses(d, stats)) {
        if (done || socket.writableEnded) break;
        socket.write(Buffer.concat([frame(1, ch, CHANNEL_CLOSE_OK), frame(1, ch, CHANNEL_OPEN)]));
      }
      if (plan.ending !== 'destroy') armIdle();
    });
    socket.on('connect', () => {
      stats.connections++;
      if (plan.kind === 'authenticated') stats.authenticated++;
      writeNext();
      if (plan.ending === 'destroy') finish();
      else {
        // A half-closed session sends everything first, then its FIN.
        if (plan.ending === 'half-close') {
          while (next < plan.parts.length) writeNext();
          socket.end();
        }
        armIdle();
      }
    });
  });
}

/**
 * Counts connection.close and channel.close methods in what the server sent (best effort:
 * frames may straddle reads); returns the channels the server closed.
 */
function countCloses(d: Buffer, stats: FuzzStats): number[] {
  const closed: number[] = [];
  for (let i = 0; i + 12 <= d.length; ) {
    const type = d[i];
    const size = d.readUInt32BE(i + 3);
    if (type === 1 && i + 13 <= d.length) {
      const cls = d.readUInt16BE(i + 7);
      const mth = d.readUInt16BE(i + 9);
      if ((cls === 10 || cls === 20) && mth === 40 + (cls === 10 ? 10 : 0)) {
        const code = d.readUInt16BE(i + 11);
        stats.replyCodes.set(code, (stats.replyCodes.get(code) ?? 0) + 1);
        if (cls === 20) closed.push(d.readUInt16BE(i + 1));
      }
    }
    if (type !== 1 && type !== 2 && type !== 3 && type !== 8) break;
    i += 8 + size;
  }
  return closed;
}

// --- correct clients -----------------------------------------------------------

/** The body of message `seq` of client `i`: checked byte for byte on delivery. */
function expectedBody(seed: number, i: number, seq: number): Buffer {
  const rng = new Rng(seed * 1_000_003 + i * 7919 + seq);
  return Buffer.concat([Buffer.from(`${i}:${seq}:`), rng.bytes(rng.int(4096))]);
}

interface CorrectClient {
  stop(): Promise<void>;
}

const CONFIRM_WINDOW = 20;
const CORRECT_WAIT_MS = 30_000;

async function startCorrectClient(opts: FuzzOptions, i: number, stats: FuzzStats): Promise<CorrectClient> {
  const url = `amqp://guest:guest@${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  const conn: ChannelModel = await amqp.connect(url);
  const fail = (what: string): void => {
    stats.correctErrors.push(`client ${i}: ${what}`);
  };
  let stopping = false;
  conn.on('error', (e: Error) => fail(`connection error ${e.message}`));
  conn.on('close', () => {
    if (!stopping) fail('connection closed');
  });
  const pub: ConfirmChannel = await conn.createConfirmChannel();
  const sub: Channel = await conn.createChannel();
  for (const ch of [pub, sub]) ch.on('error', (e: Error) => fail(`channel error ${e.message}`));
  const queue = `fuzz-correct-${opts.seed}-${i}-${process.pid}`;
  await pub.assertQueue(queue, { durable: true });
  await pub.purgeQueue(queue);
  let nextExpected = 0;
  let allConsumed: (() => void) | undefined;
  let published = 0;
  const { consumerTag } = await sub.consume(queue, (msg) => {
    if (!msg) return fail('consumer cancelled by the broker');
    const want = expectedBody(opts.seed, i, nextExpected);
    if (!msg.content.equals(want)) fail(`message ${nextExpected}: wrong body (${msg.content.subarray(0, 16).toString('latin1')}...)`);
    nextExpected++;
    stats.correctConsumed++;
    sub.ack(msg);
    if (stopping && nextExpected >= published) allConsumed?.();
  });
  const loop = (async () => {
    while (!stopping) {
      for (let k = 0; k < CONFIRM_WINDOW; k++) {
        pub.sendToQueue(queue, expectedBody(opts.seed, i, published), { persistent: true });
        published++;
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          pub.waitForConfirms(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no confirms within ${CORRECT_WAIT_MS} ms`)), CORRECT_WAIT_MS))),
        ]);
      } catch (err) {
        fail(`publish: ${err instanceof Error ? err.message : String(err)}`);
        return;
      } finally {
        clearTimeout(timer);
      }
      stats.correctPublished += CONFIRM_WINDOW;
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      if (nextExpected < published) {
        const consumed = new Promise<void>((resolve) => (allConsumed = resolve));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, CORRECT_WAIT_MS)));
        await Promise.race([consumed, timeout]);
        clearTimeout(timer);
        if (nextExpected < published) fail(`only ${nextExpected} of ${published} messages consumed`);
      }
      await sub.cancel(consumerTag);
      await pub.deleteQueue(queue).catch(() => fail('deleteQueue failed'));
      await conn.close().catch(() => undefined);
    },
  };
}

// --- the campaign ---------------------------------------------------------------

export function newFuzzStats(): FuzzStats {
  return {
    frames: 0, connections: 0, authenticated: 0, closedByServer: 0, replyCodes: new Map(), byMutation: new Map(),
    correctPublished: 0, correctConsumed: 0, correctErrors: [], rssMinBytes: Infinity, rssMaxBytes: 0, crashes: 0, seconds: 0,
  };
}

export async function runFuzzCampaign(opts: FuzzOptions): Promise<FuzzStats> {
  const stats = newFuzzStats();
  const started = Date.now();
  const sampleRss = (): void => {
    const rss = opts.rss?.();
    if (rss === undefined) return;
    stats.rssMinBytes = Math.min(stats.rssMinBytes, rss);
    stats.rssMaxBytes = Math.max(stats.rssMaxBytes, rss);
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, 250);
  const clients: CorrectClient[] = [];
  for (let i = 0; i < opts.correctClients; i++) clients.push(await startCorrectClient(opts, i, stats));
  const rng = new Rng(opts.seed);
  let planned = 0;
  let nextProgress = 0;
  const worker = async (): Promise<void> => {
    while (planned < opts.frames && !opts.crashed?.()) {
      const plan = planSession(rng, opts.frames - planned, stats);
      planned += plan.frames;
      await runSession(opts, plan, stats);
      stats.frames += plan.frames;
      if (opts.progress && stats.frames >= nextProgress) {
        nextProgress = stats.frames + Math.max(1, Math.floor(opts.frames / 20));
        opts.progress(stats);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    if (opts.crashed?.()) stats.crashes++;
    else for (const c of clients) await c.stop();
  } finally {
    clearInterval(rssTimer);
    sampleRss();
  }
  if (opts.crashed?.() && stats.crashes === 0) stats.crashes++;
  stats.seconds = (Date.now() - started) / 1000;
  return stats;
}

/** A Linux process's resident set size, from /proc (undefined elsewhere or once it has gone). */
export function processRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function formatFuzzStats(seed: number, s: FuzzStats): string {
  const mib = (b: number): string => (Number.isFinite(b) && b > 0 ? (b / 2 ** 20).toFixed(0) : '?');
  const codes = [...s.replyCodes].sort((a, b) => a[0] - b[0]).map(([c, n]) => `${c}:${n}`).join(' ');
  const muts = [...s.byMutation].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `amqp fuzz campaign: seed ${seed}, ${s.frames} frames over ${s.connections} connections (${s.authenticated} authenticated) in ${s.seconds.toFixed(1)} s`,
    `broker crashes: ${s.crashes}; sockets closed by the broker: ${s.closedByServer}; broker RSS min ${mib(s.rssMinBytes)} MiB, max ${mib(s.rssMaxBytes)} MiB`,
    `correct clients: ${s.correctPublished} published and confirmed, ${s.correctConsumed} consumed and verified, ${s.correctErrors.length} errors${s.correctErrors.length ? ': ' + s.correctErrors.slice(0, 5).join('; ') : ''}`,
    `close reply codes: ${codes}`,
    `mutations: ${muts}`,
  ].join('\n');
}
