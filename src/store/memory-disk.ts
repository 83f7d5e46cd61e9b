// A LogDisk in memory that models what survives power loss, for the memory log, fault tests and
// the crash simulator. Each file has the bytes the OS holds and the bytes known durable (at the
// last datasync); the directory has the entries as of the last syncDir. crash() keeps only what
// was durable — optionally plus a torn, partly garbled piece of what was not.
// Every operation completes after a setImmediate so concurrent callers really interleave.

import type { LogDisk, LogFile } from './disk.js';
import { seededRandom as rng } from '../util/random.js';

export interface FaultPlan {
  /** 1-based numbers of datasync calls (counted over the disk's life) that fail with ENOSPC. */
  readonly failFsyncAt?: readonly number[];
  /** 1-based numbers of write calls that fail with ENOSPC (nothing of them lands). */
  readonly failWriteAt?: readonly number[];
  /** Writes that would make the files hold more than this fail with ENOSPC. */
  readonly capacityBytes?: number;
  /** Seed for the choices crash({ tear: true }) makes. Default 1. */
  readonly seed?: number;
}

/** Growable byte array. */
class Bytes {
  private buf = Buffer.alloc(0);
  length = 0;

  static from(src: Buffer): Bytes {
    const b = new Bytes();
    b.write(src, 0);
    return b;
  }

  view(from = 0, to = this.length): Buffer {
    return this.buf.subarray(from, Math.min(to, this.length));
  }

  write(src: Buffer, at: number): void {
    const end = at + src.length;
    if (end > this.buf.length) {
      const grown = Buffer.alloc(Math.max(end, this.buf.length * 2, 256));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    if (at > this.length) this.buf.fill(0, this.length, at); // a hole reads as zeros
    src.copy(this.buf, at);
    this.length = Math.max(this.length, end);
  }

  truncate(length: number): void {
    if (length > this.length) this.write(Buffer.alloc(length - this.length), this.length);
    else this.length = length;
  }
}

/** @internal One file's state. */
export interface MemFile {
  /** What reads see (the page cache). */
  readonly os: Bytes;
  /** What survives a crash. */
  durable: Bytes;
  /** Lowest offset changed since the last datasync (Infinity when clean). */
  dirtyFrom: number;
}

function fault(code: string, syscall: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = { ENOSPC: 'no space left on device', EIO: 'i/o error' };
  const err: NodeJS.ErrnoException = new Error(`${code}: ${messages[code] ?? 'simulated failure'}, ${syscall} (simulated)`);
  err.code = code;
  err.syscall = syscall;
  return err;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class MemoryDisk {
  private files = new Map<string, MemFile>();
  /** Directory entries as of the last syncDir. */
  private dirDurable = new Map<string, MemFile>();
  /** Renames since the last syncDir: a crash keeps each whole or undoes it whole (rename is atomic). */
  private pendingRenames: { from: string; to: string }[] = [];
  /** Quarantined bytes by name (durable at once). */
  readonly quarantined = new Map<string, Buffer>();
  readonly counters = { writes: 0, fsyncs: 0, fsyncsInFlight: 0, fsyncsInFlightMax: 0, crashes: 0 };
  /** Bumped by crash(): handles from before a crash fail, as the process that held them is gone. */
  private generation = 0;
  private readonly failFsyncAt: Set<number>;
  private readonly failWriteAt: Set<number>;
  private nextFsyncFault: string | undefined;
  private nextWriteFault: string | undefined;
  private readonly random: () => number;

  constructor(readonly faults: FaultPlan = {}) {
    this.failFsyncAt = new Set(faults.failFsyncAt ?? []);
    this.failWriteAt = new Set(faults.failWriteAt ?? []);
    this.random = rng(faults.seed ?? 1);
  }

  /** The next datasync fails with `code` (its data is then not durable, as on Linux). */
  failNextFsync(code = 'ENOSPC'): void {
    this.nextFsyncFault = code;
  }

  failNextWrite(code = 'ENOSPC'): void {
    this.nextWriteFault = code;
  }

  /** Forget failNextFsync()/failNextWrite() faults not yet triggered. */
  clearPendingFaults(): void {
    this.nextFsyncFault = undefined;
    this.nextWriteFault = undefined;
  }

  /** Names of the files that exist now, sorted. */
  fileNames(): string[] {
    return [...this.files.keys()].sort();
  }

  /** Current (page cache) contents of a file, for tests that corrupt or inspect bytes. */
  contents(name: string): Buffer | undefined {
    const f = this.files.get(name);
    return f ? Buffer.from(f.os.view()) : undefined;
  }

  /** Replaces a file's contents, durably (a test planting corrupt data). */
  setContents(name: string, data: Buffer): void {
    const f: MemFile = { os: Bytes.from(data), durable: Bytes.from(data), dirtyFrom: Infinity };
    this.files.set(name, f);
    this.dirDurable.set(name, f);
  }

  usedBytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.os.length;
    return n;
  }

  /**
   * Power loss. Without `tear` exactly the durable state survives: synced bytes of files whose
   * directory entry was synced (removals not yet synced are undone). With `tear`, each outcome a
   * real disk allows is picked at random: unsynced entries may or may not survive, and a file may
   * keep a prefix of its unsynced bytes, part of which may be zeros (pages that never made it).
   */
  crash(opts: { tear?: boolean } = {}): void {
    this.generation++;
    this.counters.crashes++;
    this.clearPendingFaults(); // they were meant for the process that just died
    const survivors = new Map<string, MemFile>();
    const names = new Set([...this.files.keys(), ...this.dirDurable.keys()]);
    // Both names of a rename get one outcome: the rename happened, or it did not.
    const forced = new Map<string, boolean>();
    for (const r of this.pendingRenames) {
      const happened = opts.tear === true && this.random() < 0.5;
      if (!forced.has(r.from)) forced.set(r.from, happened);
      if (!forced.has(r.to)) forced.set(r.to, happened);
    }
    this.pendingRenames = [];
    for (const name of [...names].sort()) {
      const now = this.files.get(name);
      const synced = this.dirDurable.get(name);
      const keepNow = forced.get(name);
      let file: MemFile | undefined;
      if (now && synced === now) file = now;
      else if (keepNow !== undefined) file = keepNow ? now : synced;
      else if (opts.tear && this.random() < 0.5) file = now ?? synced;
      else file = synced; // an unsynced creation is lost, an unsynced removal undone
      if (!file) continue;
      const bytes = opts.tear ? this.tornContents(file) : Buffer.from(file.durable.view());
      survivors.set(name, { os: Bytes.from(bytes), durable: Bytes.from(bytes), dirtyFrom: Infinity });
    }
    this.files = survivors;
    this.dirDurable = new Map(survivors);
  }

  private tornContents(f: MemFile): Buffer {
    const durable = f.durable.view();
    if (this.random() < 0.5) return Buffer.from(durable);
    const base = Math.min(f.dirtyFrom, durable.length, f.os.length);
    const unsynced = f.os.view(base);
    const kept = Math.floor(this.random() * (unsynced.length + 1));
    const out = Buffer.concat([durable.subarray(0, base), unsynced.subarray(0, kept)]);
    if (kept > 0 && this.random() < 0.3) {
      // A page in the middle never reached the platter.
      const from = base + Math.floor(this.random() * kept);
      const to = Math.min(out.length, from + 1 + Math.floor(this.random() * 4096));
      out.fill(this.random() < 0.5 ? 0 : 0xa5, from, to);
    }
    return out;
  }

  /** A LogDisk for one "process": once the disk crashes, everything it does fails, as the process is gone. */
  session(): LogDisk {
    return new MemoryDiskSession(this, this.generation);
  }

  /** @internal */
  listNow(): string[] {
    return this.fileNames();
  }

  /** @internal */
  openNow(name: string, mode: 'create' | 'existing', gen: number): LogFile {
    const existing = this.files.get(name);
    if (mode === 'create' && existing) throw fault('EEXIST', 'open');
    if (mode === 'existing' && !existing) throw fault('ENOENT', 'open');
    let file = existing;
    if (!file) {
      file = { os: new Bytes(), durable: new Bytes(), dirtyFrom: Infinity };
      this.files.set(name, file);
    }
    return new MemoryLogFile(this, file, gen);
  }

  /** @internal */
  removeNow(name: string): void {
    if (!this.files.delete(name)) throw fault('ENOENT', 'unlink');
  }

  /** @internal */
  renameNow(from: string, to: string): void {
    const file = this.files.get(from);
    if (!file) throw fault('ENOENT', 'rename');
    this.files.delete(from);
    this.files.set(to, file);
    this.pendingRenames.push({ from, to });
  }

  /** @internal */
  syncDirNow(): void {
    this.dirDurable = new Map(this.files);
    this.pendingRenames = [];
  }

  /** @internal */
  quarantineNow(name: string, data: Buffer): string {
    let target = name;
    for (let n = 1; this.quarantined.has(target); n++) target = name.replace(/(\.[^.]*)?$/, `-${n}$1`);
    this.quarantined.set(target, data);
    return target;
  }

  /** @internal */
  checkAlive(gen: number): void {
    if (gen !== this.generation) throw fault('EIO', 'crashed');
  }

  /** @internal Throws if this write is planned to fail or the disk is full. */
  beforeWrite(f: MemFile, position: number, bytes: number): void {
    const n = ++this.counters.writes;
    const planned = this.nextWriteFault ?? (this.failWriteAt.has(n) ? 'ENOSPC' : undefined);
    this.nextWriteFault = undefined;
    if (planned) throw fault(planned, 'write');
    const cap = this.faults.capacityBytes;
    const growth = Math.max(0, position + bytes - f.os.length);
    if (cap !== undefined && this.usedBytes() + growth > cap) throw fault('ENOSPC', 'write');
  }

  /** @internal The datasync's failure code, if this one is planned to fail. */
  fsyncFault(): string | undefined {
    const n = ++this.counters.fsyncs;
    const planned = this.nextFsyncFault ?? (this.failFsyncAt.has(n) ? 'ENOSPC' : undefined);
    this.nextFsyncFault = undefined;
    return planned;
  }
}

class MemoryLogFile implements LogFile {
  private closed = false;

  constructor(
    private readonly disk: MemoryDisk,
    private readonly file: MemFile,
    private readonly generation: number,
  ) {}

  private check(): void {
    this.disk.checkAlive(this.generation);
    if (this.closed) throw fault('EBADF', 'file closed');
  }

  async read(into: Buffer, position: number): Promise<number> {
    this.check();
    await tick();
    this.check();
    return this.file.os.view(position, position + into.length).copy(into);
  }

  async writev(chunks: readonly Buffer[], position: number): Promise<void> {
    this.check();
    await tick();
    this.check();
    const data = Buffer.concat(chunks);
    this.disk.beforeWrite(this.file, position, data.length);
    this.file.os.write(data, position);
    this.file.dirtyFrom = Math.min(this.file.dirtyFrom, position);
  }

  async datasync(): Promise<void> {
    const c = this.disk.counters;
    c.fsyncsInFlight++;
    c.fsyncsInFlightMax = Math.max(c.fsyncsInFlightMax, c.fsyncsInFlight);
    try {
      this.check();
      await tick();
      this.check();
      const failed = this.disk.fsyncFault();
      const f = this.file;
      const from = Math.min(f.dirtyFrom, f.durable.length, f.os.length);
      // Linux marks the dirty pages clean even when writeback failed, so a retry "succeeds" without them.
      f.dirtyFrom = Infinity;
      if (failed) throw fault(failed, 'fdatasync');
      f.durable.truncate(from);
      f.durable.write(f.os.view(from), from);
    } finally {
      c.fsyncsInFlight--;
    }
  }

  async truncate(bytes: number): Promise<void> {
    this.check();
    await tick();
    this.check();
    this.file.os.truncate(bytes);
    this.file.dirtyFrom = Math.min(this.file.dirtyFrom, bytes);
  }

  async size(): Promise<number> {
    await tick();
    this.check();
    return this.file.os.length;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

class MemoryDiskSession implements LogDisk {
  constructor(
    private readonly disk: MemoryDisk,
    private readonly generation: number,
  ) {}

  /** Checks before and after the simulated latency: a crash in between fences the call off. */
  private async op<T>(fn: () => T): Promise<T> {
    this.disk.checkAlive(this.generation);
    await tick();
    this.disk.checkAlive(this.generation);
    return fn();
  }

  list(): Promise<string[]> {
    return this.op(() => this.disk.listNow());
  }

  open(name: string, mode: 'create' | 'existing'): Promise<LogFile> {
    return this.op(() => this.disk.openNow(name, mode, this.generation));
  }

  remove(name: string): Promise<void> {
    return this.op(() => this.disk.removeNow(name));
  }

  rename(from: string, to: string): Promise<void> {
    return this.op(() => this.disk.renameNow(from, to));
  }

  syncDir(): Promise<void> {
    return this.op(() => this.disk.syncDirNow());
  }

  async quarantine(name: string, file: LogFile, from: number, to: number): Promise<string> {
    const data = Buffer.alloc(to - from);
    const got = await file.read(data, from);
    return this.op(() => this.disk.quarantineNow(name, data.subarray(0, got)));
  }

  describe(name: string): string {
    return `memory:${name}`;
  }
}
