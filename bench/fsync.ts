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
