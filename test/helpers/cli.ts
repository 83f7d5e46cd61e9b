// The `wharf` binary as an operator runs it: a child process (never an import),
// asynchronous so that a broker in this process keeps serving meanwhile.

import { spawn, type ChildProcess } from 'node:child_process';
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

export interface RunningWharf {
  readonly child: ChildProcess;
  /** What it wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once it exits (a timeout rejects and kills it). */
  readonly exited: Promise<CliResult>;
}

/** Starts `wharf ...args` and returns at once, for verbs that keep running (consume follows a queue). */
export function startWharf(args: readonly string[], o: CliOptions = {}): RunningWharf {
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
  const exited = withTimeout(done, WAIT_MS * 3, `wharf ${args.join(' ')}`).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  exited.catch(() => {}); // a caller that never awaits it must not crash the run
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs `wharf ...args` and resolves once it exits (a timeout rejects). */
export function runWharf(args: readonly string[], o: CliOptions = {}): Promise<CliResult> {
  return startWharf(args, o).exited;
}
