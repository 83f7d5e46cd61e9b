// Throughput cost of issue 3's queue features on the 1-publisher/1-consumer
// benchmark (bench/quick.ts through amqplib): the same workload against queues
// declared with each feature's arguments, variants alternated over several rounds,
// medians printed. A fresh broker (CLI, own data dir) per run. Besides msgs/s it
// prints the broker's CPU time per message (from /proc), which a machine busy with
// other work disturbs far less than wall-clock rates. Prints; asserts nothing.
//   node dist/bench/features.js [--rounds 3] [--messages 100000] [--persistent]

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** User + system CPU of a process so far, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Sample {
  rate: number;
  cpuUsPerMsg: number;
}

async function run(name: string): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
  const broker = spawn(process.execPath, [cli, 'serve', '--data-dir', dir, '--amqp-port', '0', '--http-port', '0', '--kafka-port', '0', '--aws-port', '0', '--bind', '127.0.0.1', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    const before = cpuMs(broker.pid as number);
    const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
    const cpu = cpuMs(broker.pid as number) - before;
    const rate = (JSON.parse(out.trim().split('\n').pop() as string) as { consumedPerSec: number }).consumedPerSec;
    return { rate, cpuUsPerMsg: (cpu * 1000) / Number(values.messages) };
  } finally {
    broker.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = new Map<string, Sample[]>();
for (let r = 0; r < Number(values.rounds); r++) {
  for (const name of Object.keys(VARIANTS)) {
    const s = await run(name);
    results.set(name, [...(results.get(name) ?? []), s]);
    console.error(`round ${r + 1} ${name}: ${s.rate} msg/s, broker ${s.cpuUsPerMsg.toFixed(1)} µs CPU/msg`);
  }
}
const plain = results.get('plain') ?? [];
const baseRate = median(plain.map((s) => s.rate));
const baseCpu = median(plain.map((s) => s.cpuUsPerMsg));
console.log(`| variant (${values.persistent ? 'persistent, confirms, manual ack' : 'transient, auto-ack'}) | median msg/s | min-max | vs plain | broker µs CPU/msg | vs plain |`);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [name, xs] of results) {
  const rates = xs.map((s) => s.rate);
  const cpu = median(xs.map((s) => s.cpuUsPerMsg));
  console.log(`| ${name} | ${median(rates)} | ${Math.min(...rates)}-${Math.max(...rates)} | ${(median(rates) / baseRate).toFixed(2)} | ${cpu.toFixed(1)} | ${(cpu / baseCpu).toFixed(2)} |`);
}
