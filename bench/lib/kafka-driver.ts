// Runs `wharf perf-kafka` as a child process and reads its final JSON line (the tool's
// contract, docs/perf.md "wharf perf-kafka").

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KafkaPerfResult } from '../../src/cli/perf/kafka-report.js';
import { onCleanup } from './cleanup.js';

const WHARF_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The last line of `stdout` that parses as perf-kafka's JSON object; throws if there is none. */
export function parseKafkaPerfOutput(stdout: string): KafkaPerfResult {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch {
      continue;
    }
    if (typeof value === 'object' && value !== null && 'ackRate' in value && 'consumeRate' in value) return value as KafkaPerfResult;
  }
  throw new Error('perf-kafka printed no result line (a JSON object with ackRate and consumeRate)');
}

/** Runs perf-kafka against `bootstrap` with `args` (plus --json); rejects with its stderr on failure. */
export function runKafkaPerf(bootstrap: string, args: readonly string[], timeoutMs: number): Promise<KafkaPerfResult> {
  const child = spawn(process.execPath, [WHARF_CLI, 'perf-kafka', '--bootstrap', bootstrap, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const kill = (): void => void child.kill('SIGKILL');
  const forget = onCleanup('perf-kafka', async () => kill(), kill);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      void forget();
      const what = `perf-kafka ${args.join(' ')}`;
      if (code !== 0) {
        reject(new Error(`${what} failed (${signal ?? `exit ${code}`}${signal === 'SIGKILL' ? `, timeout ${timeoutMs} ms` : ''}): ${err.trim() || out.trim().slice(-500)}`));
        return;
      }
      try {
        resolve(parseKafkaPerfOutput(out));
      } catch (e) {
        reject(new Error(`${what}: ${(e as Error).message}\n${err}`));
      }
    });
  });
}
