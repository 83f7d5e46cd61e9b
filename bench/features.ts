// Throughput cost of issue 3's queue features on the 1-publisher/1-consumer
// benchmark (bench/quick.ts through amqplib): the same workload against queues
// declared with each feature's arguments, variants alternated over several rounds,
// medians printed. A fresh broker (CLI, own data dir) per run. Prints; asserts nothing.
//   node dist/bench/features.js [--rounds 3] [--messages 100000] [--persistent]

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    messages: { type: 'string', default: '100000' },
    persistent: { type: 'boolean', default: false },
  },
});

const VARIANTS: Record<string, { args: Record<string, unknown>; extra?: string[] }> = {
  plain: { args: {} },
  'message-ttl': { args: { 'x-message-ttl': 3_600_000 } },
  'max-length': { args: { 'x-max-length': 10_000_000 } },
  'dead-letter': { args: { 'x-dead-letter-exchange': '' } },
  'max-priority': { args: { 'x-max-priority': 10 } },
  'delivery-limit': { args: { 'x-delivery-limit': 5 } },
  'single-active': { args: { 'x-single-active-consumer': true } },
  dedup: { args: { 'x-message-deduplication': true }, extra: ['--message-ids'] },
};

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const quick = fileURLToPath(new URL('./quick.js', import.meta.url));

async function run(name: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
  const broker = spawn(process.execPath, [cli, 'serve', '--data-dir', dir, '--amqp-port', '0', '--http-port', '0', '--bind', '127.0.0.1', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      broker.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        const m = /amqp=\S+:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      broker.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
    });
    const v = VARIANTS[name];
    const args = [quick, `amqp://guest:guest@127.0.0.1:${port}`, '--messages', values.messages ?? '100000', '--args', JSON.stringify(v.args), ...(v.extra ?? [])];
    if (values.persistent) args.push('--persistent');
    const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
    return (JSON.parse(out.trim().split('\n').pop() as string) as { consumedPerSec: number }).consumedPerSec;
  } finally {
    broker.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = new Map<string, number[]>();
for (let r = 0; r < Number(values.rounds); r++) {
  for (const name of Object.keys(VARIANTS)) {
    const rate = await run(name);
    results.set(name, [...(results.get(name) ?? []), rate]);
    console.error(`round ${r + 1} ${name}: ${rate} msg/s`);
  }
}
const base = median(results.get('plain') ?? [1]);
console.log(`| variant (${values.persistent ? 'persistent, confirms, manual ack' : 'transient, auto-ack'}) | median msg/s | min-max | vs plain |`);
console.log('| --- | --- | --- | --- |');
for (const [name, xs] of results) {
  console.log(`| ${name} | ${median(xs)} | ${Math.min(...xs)}-${Math.max(...xs)} | ${(median(xs) / base).toFixed(2)} |`);
}
