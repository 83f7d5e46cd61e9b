// Shared by the store unit tests: temp dirs, a logger that remembers, deterministic payloads.

import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Log, LogPosition, LogRecord, Logger } from '../../../src/store/index.js';

export interface LoggedLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields?: object;
}

export function memoryLogger(): Logger & { lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const at =
    (level: LoggedLine['level']) =>
    (msg: string, fields?: object): void => {
      lines.push({ level, msg, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export async function tempRoot(prefix = 'wharf-store-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

export function payloadFor(i: number, bytes = 30): Buffer {
  const b = Buffer.alloc(bytes);
  for (let j = 0; j < bytes; j++) b[j] = (i * 131 + j * 17 + 1) & 0xff;
  return b;
}

export async function scanAll(log: Log, from?: LogPosition): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  await log.scan((r) => out.push(r), from);
  return out;
}
