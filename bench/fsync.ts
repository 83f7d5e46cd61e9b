// The data disk's raw sequential durable-write rate: appends of 4 KiB and
// 64 KiB, each followed by fdatasync, and 1 MiB appends each followed by
// fdatasync for MB/s, for a few seconds each, in a temp file under the
// directory given (the one brokers' data dirs go in). What a broker that
// syncs per message, or per group commit, can at best reach on this disk.
//
//   node dist/bench/fsync.js [--dir /tmp] [--seconds 3]

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export interface DiskResult {
  writeBytes: number;
  writes: number;
  seconds: number;
  /** fdatasync'd appends per second. */
  syncsPerSec: number;
  mbPerSec: number;
  /** Mean latency of one write + fdatasync, ms. */
  meanSyncMs: number;
}

const SIZES = [4096, 65536, 1024 * 1024];

function measureOne(path: string, writeBytes: number, seconds: number): DiskResult {
  const fd = openSync(path, 'w');
  const buf = Buffer.alloc(writeBytes, 0x5a);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let writes = 0;
  try {
    while (performance.now() < deadline) {
      writeSync(fd, buf);
      fdatasyncSync(fd);
      writes++;
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  const secs = (performance.now() - start) / 1000;
  return {
    writeBytes,
    writes,
    seconds: secs,
    syncsPerSec: writes / secs,
    mbPerSec: (writes * writeBytes) / secs / (1024 * 1024),
    meanSyncMs: (secs * 1000) / Math.max(writes, 1),
  };
}

/** Measures each write size for `seconds` in a fresh temp dir under `baseDir`. */
export function measureDisk(baseDir: string, seconds: number): DiskResult[] {
  const dir = mkdtempSync(join(baseDir, 'wharf-fsync-'));
  try {
    return SIZES.map((size) => measureOne(join(dir, `append-${size}.bin`), size, seconds));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SyncLatency {
  writeBytes: number;
  syncs: number;
  /** One append + fdatasync, ms. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * The latency distribution of one small append + fdatasync, for `seconds` in a temp file under
 * `baseDir`: the floor under any durable (acks=all, confirm-after-fsync) latency on this disk.
 */
export function measureSyncLatency(baseDir: string, seconds: number, writeBytes = 4096): SyncLatency {
  const dir = mkdtempSync(join(baseDir, 'wharf-fsync-'));
  const path = join(dir, 'latency.bin');
  const fd = openSync(path, 'w');
  const buf = Buffer.alloc(writeBytes, 0x5a);
  const times: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  try {
    while (performance.now() < deadline) {
      const t = performance.now();
      writeSync(fd, buf);
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(times.length * q))] ?? 0;
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return { writeBytes, syncs: times.length, p50: r3(at(0.5)), p99: r3(at(0.99)), p999: r3(at(0.999)), max: r3(times[times.length - 1] ?? 0) };
}

export function formatSyncLatency(dir: string, l: SyncLatency): string {
  return `${l.writeBytes / 1024} KiB append + fdatasync in ${dir}: p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms, max ${l.max} ms (${l.syncs} syncs)\n`;
}

export function formatDisk(dir: string, results: readonly DiskResult[]): string {
  const lines = [`sequential append + fdatasync in ${dir}:`];
  for (const r of results) {
    const size = r.writeBytes >= 1024 * 1024 ? `${r.writeBytes / (1024 * 1024)} MiB` : `${r.writeBytes / 1024} KiB`;
    lines.push(`  ${size.padStart(7)} writes: ${Math.round(r.syncsPerSec).toString().padStart(6)} syncs/s  ${r.mbPerSec.toFixed(1).padStart(7)} MB/s  ${r.meanSyncMs.toFixed(3)} ms per write+sync`);
  }
  return lines.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { dir: { type: 'string', default: tmpdir() }, seconds: { type: 'string', default: '3' } } });
  const dir = values.dir as string;
  process.stdout.write(formatDisk(dir, measureDisk(dir, Number(values.seconds))));
}
