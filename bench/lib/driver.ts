// Runs the load generator as a child process and reads its final JSON line.
// The generator is `wharf perf` by default; any command that takes the same
// flags and prints the same line works (`--driver amqplib` is the stand-in
// in bench/lib/amqplib-driver.ts). The flags and the JSON line are the
// contract of `wharf perf` (docs/perf.md).

import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PerfResult } from '../../src/cli/perf/report.js';
import { onCleanup } from './cleanup.js';

/** The contract's part of wharf perf's final line (the amqplib stand-in prints just that). */
export type DriverResult = Omit<PerfResult, 'config' | 'confirmed' | 'nacked' | 'returned' | 'confirmLatencyMs'> & {
  config?: unknown;
  /** wharf perf's publish-to-confirm latency (not part of the contract; the amqplib stand-in has none). */
  confirmLatencyMs?: PerfResult['confirmLatencyMs'];
};

const WHARF_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const AMQPLIB_DRIVER = fileURLToPath(new URL('./amqplib-driver.js', import.meta.url));

export type DriverChoice = 'perf' | 'amqplib' | 'auto';

/** The argv prefix of the load generator; `custom` (a command line, split on spaces) wins. */
export function driverCommand(choice: DriverChoice, custom?: string): { argv: string[]; name: string } {
  if (custom !== undefined && custom.trim() !== '') return { argv: custom.trim().split(/\s+/), name: custom.trim() };
  const perf = { argv: [process.execPath, WHARF_CLI, 'perf'], name: 'wharf perf' };
  const amqplib = { argv: [process.execPath, AMQPLIB_DRIVER], name: 'amqplib stand-in (bench/lib/amqplib-driver.ts)' };
  if (choice === 'perf') return perf;
  if (choice === 'amqplib') return amqplib;
  const probe = spawnSync(perf.argv[0], [...perf.argv.slice(1), '--help'], { stdio: 'ignore', timeout: 10_000 });
  return probe.status === 0 ? perf : amqplib;
}

/** The last line of `stdout` that parses as the driver's JSON object; throws if there is none. */
export function parseDriverOutput(stdout: string): DriverResult {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch {
      continue;
    }
    if (typeof value === 'object' && value !== null && 'publishRate' in value && 'consumeRate' in value) return value as DriverResult;
  }
  throw new Error(`the driver printed no result line (a JSON object with publishRate and consumeRate)`);
}

/** Runs the driver against `url` with `args` (plus --json); rejects with its stderr on failure. */
export function runDriver(argv: string[], url: string, args: string[], timeoutMs: number): Promise<DriverResult> {
  const [cmd, ...prefix] = argv;
  const child = spawn(cmd, [...prefix, '--url', url, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const kill = (): void => void child.kill('SIGKILL');
  const forget = onCleanup('driver', async () => kill(), kill);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      void forget();
      const what = `driver ${argv.slice(1).join(' ')} ${args.join(' ')}`;
      if (code !== 0) {
        reject(new Error(`${what} failed (${signal ?? `exit ${code}`}${signal === 'SIGKILL' ? `, timeout ${timeoutMs} ms` : ''}): ${err.trim() || out.trim().slice(-500)}`));
        return;
      }
      try {
        resolve(parseDriverOutput(out));
      } catch (e) {
        reject(new Error(`${what}: ${(e as Error).message}\n${err}`));
      }
    });
  });
}
