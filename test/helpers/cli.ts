// The `wharf` binary as an operator runs it: a child process (never an import),
// asynchronous so that a broker in this process keeps serving meanwhile.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout, WAIT_MS } from './async.js';

export const wharfBin = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Written to standard input, then closed (closed at once when absent). */
  readonly input?: string | Buffer;
  /** Added to the environment; WHARF_* from the developer's own shell never leak in. */
  readonly env?: Record<string, string>;
}

/** Runs `wharf ...args` and resolves once it exits (a timeout rejects). */
export function runWharf(args: readonly string[], o: CliOptions = {}): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHARF_')));
  const child = spawn(process.execPath, [wharfBin, ...args], { env: { ...env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  child.stdin.end(o.input);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return withTimeout(done, WAIT_MS * 3, `wharf ${args.join(' ')}`).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
}
