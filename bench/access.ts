// Permission-check overhead on bench/compare's workload a (transient 16 B,
// auto-ack, 1 publisher / 1 consumer, `wharf perf`): the same run as a user with
// ".*" permissions and as one with real patterns (and a topic permission on
// another exchange, so the publish path also takes the topic branch's first
// test), alternating, a fresh Wharf child per run. Prints medians and the
// overhead; asserts nothing (issue 13 targets < 3%). First, in-process, the cost
// of the check itself (AccessGrant.publish, ns per call) for both users, which a
// loaded machine cannot blur the way it blurs end-to-end rates.
//
//   npm run build && node dist/bench/access.js --rounds 5 --duration 10 [--micro-only]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from './lib/brokers.js';
import { cleanupAll } from './lib/cleanup.js';
import { driverCommand, runDriver } from './lib/driver.js';
import { Access, openGrant, type AccessGrant } from '../src/broker/access/index.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'micro-only': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const durationSecs = Number(values.duration);
const warmupSecs = Number(values.warmup);

type Variant = 'full' | 'patterns';

/** The user's permissions: ".*" everywhere, or patterns that still allow wharf perf's queues ("perf-...") and the default exchange. */
const PERMISSIONS: Record<Variant, { configure: string; write: string; read: string }> = {
  full: { configure: '.*', write: '.*', read: '.*' },
  patterns: { configure: '^perf', write: '^(perf|amq\\.default$)', read: '^perf' },
};

async function api(port: number, method: string, path: string, body: unknown): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
}

async function runOnce(variant: Variant, base: string): Promise<number> {
  const broker = await startBroker('wharf', base);
  try {
    const port = broker.httpPort as number;
    await api(port, 'PUT', '/api/users/bench', { password: 'bench', tags: '' });
    await api(port, 'PUT', '/api/permissions/%2F/bench', PERMISSIONS[variant]);
    if (variant === 'patterns') await api(port, 'PUT', '/api/topic-permissions/%2F/bench', { exchange: 'amq.topic', write: '^{username}\\.', read: '.*' });
    const url = broker.url.replace(/\/\/[^@]*@/, '//bench:bench@');
    const args = ['--size', '16', '--auto-ack', '--duration', String(durationSecs), '--warmup', String(warmupSecs)];
    const r = await runDriver(driverCommand('perf').argv, url, args, (durationSecs + warmupSecs + 60) * 1000);
    return r.publishRate;
  } finally {
    await broker.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** ns per AccessGrant.publish call for a user with `.*` and for one with patterns and a topic permission. */
async function micro(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-access-micro-'));
  try {
    const { access } = await Access.open(join(dir, 'access.json'), []);
    await access.putUser('full', { password: 'x', tags: [] });
    await access.putUser('patterns', { password: 'x', tags: [] });
    await access.setPermission({ user: 'full', vhost: '/', ...PERMISSIONS.full });
    await access.setPermission({ user: 'patterns', vhost: '/', ...PERMISSIONS.patterns });
    await access.setTopicPermission({ user: 'patterns', vhost: '/', exchange: 'amq.topic', write: '^{username}\\.', read: '.*' });
    const grants: Record<Variant, AccessGrant> = {
      full: openGrant(access, { user: 'full', vhost: '/', clientId: '' }),
      patterns: openGrant(access, { user: 'patterns', vhost: '/', clientId: '' }),
    };
    const calls = 5_000_000;
    const isTopic = (): boolean => false;
    process.stdout.write('AccessGrant.publish to the default exchange, in process:\n');
    for (let pass = 0; pass < 2; pass++) {
      for (const v of ['full', 'patterns'] as const) {
        const g = grants[v];
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < calls; i++) g.publish('', 'perf-1', isTopic);
        const ns = Number(process.hrtime.bigint() - t0) / calls;
        if (pass === 1) process.stdout.write(`  user with ${v === 'full' ? '".*"    ' : 'patterns'}  ${ns.toFixed(1)} ns per publish\n`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await micro();
  if (values['micro-only']) return;
  const base = await mkdtemp(join(tmpdir(), 'wharf-bench-access-'));
  const rates: Record<Variant, number[]> = { full: [], patterns: [] };
  try {
    for (let i = 1; i <= rounds; i++) {
      // Alternating order per round, so drift in the machine's load hits both alike.
      const order: Variant[] = i % 2 ? ['full', 'patterns'] : ['patterns', 'full'];
      for (const v of order) {
        const rate = await runOnce(v, base);
        rates[v].push(rate);
        process.stdout.write(`round ${i}/${rounds} ${v.padEnd(8)} ${Math.round(rate).toLocaleString('en-US')} msg/s\n`);
      }
    }
  } finally {
    await cleanupAll();
    await rm(base, { recursive: true, force: true });
  }
  const full = median(rates.full);
  const patterns = median(rates.patterns);
  const overhead = ((full - patterns) / full) * 100;
  process.stdout.write(`\nworkload a (transient 16 B, auto-ack), ${rounds} rounds of ${durationSecs} s, medians:\n`);
  process.stdout.write(`  user with ".*"        ${Math.round(full).toLocaleString('en-US')} msg/s  (${rates.full.map((r) => Math.round(r)).join(', ')})\n`);
  process.stdout.write(`  user with patterns    ${Math.round(patterns).toLocaleString('en-US')} msg/s  (${rates.patterns.map((r) => Math.round(r)).join(', ')})\n`);
  process.stdout.write(`  permission-check cost ${overhead.toFixed(2)}% (negative: within noise, patterns faster)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
