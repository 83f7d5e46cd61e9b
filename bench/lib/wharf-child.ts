// Wharf as a child process for the single-broker benchmarks (deep-queue,
// delayed): started with the CLI's `serve` on kernel-picked ports, stopped by
// a signal (SIGKILL to time crash recovery), and its RSS read from /proc.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface WharfChild {
  proc: ChildProcess;
  url: string;
  /** host:port of its Kafka listener. */
  kafkaBootstrap: string;
  /** amqps://guest:guest@127.0.0.1:PORT when started with --tls-cert and --tls-key. */
  amqpsUrl?: string;
  /** Port of its management API. */
  httpPort: number;
  /** Port of its AWS APIs (SQS, SNS). */
  awsPort: number;
  /** From spawn to the AMQP listener being up: includes recovery of `dataDir`. */
  startMs: number;
}

/**
 * Starts `wharf serve` on `dataDir` (with `serveArgs` added); resolves once it prints its
 * AMQP address. `cliPath`: another build's dist/src/cli/main.js (A/B against another commit).
 */
export function startWharf(dataDir: string, nodeArgs: readonly string[] = [], serveArgs: readonly string[] = [], cliPath = cli): Promise<WharfChild> {
  const t0 = Date.now();
  const proc = spawn(process.execPath, [...nodeArgs, cliPath, 'serve', '--data-dir', dataDir, '--amqp-port', '0', '--http-port', '0', '--kafka-port', '0', '--aws-port', '0', '--bind', '127.0.0.1', '--log-level', 'warn', ...serveArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /amqp=\S*:(\d+)/.exec(line);
      const k = /kafka=\S*:(\d+)/.exec(line);
      const s = /amqps=\S*:(\d+)/.exec(line);
      const h = /http=\S*:(\d+)/.exec(line);
      const a = / aws=\S*:(\d+)/.exec(line);
      if (m) {
        resolve({
          proc, url: `amqp://guest:guest@127.0.0.1:${m[1]}`, kafkaBootstrap: `127.0.0.1:${k?.[1] ?? 0}`, httpPort: Number(h?.[1] ?? 0), awsPort: Number(a?.[1] ?? 0), startMs: Date.now() - t0,
          ...(s ? { amqpsUrl: `amqps://guest:guest@127.0.0.1:${s[1]}` } : {}),
        });
      }
    });
  });
}

export async function stopWharf(b: WharfChild, signal: NodeJS.Signals): Promise<void> {
  b.proc.removeAllListeners('exit');
  b.proc.kill(signal);
  await new Promise((r) => b.proc.once('exit', r));
}

/** Resident and peak resident set size in MB. */
export function rssMb(b: WharfChild): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${b.proc.pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}
