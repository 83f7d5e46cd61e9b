// Writing a replacement for sealed segments (stream compaction rewrites segments without the
// records it drops). The replacement is written to `<first>.cleaned`, made durable, and renamed
// to `<first>-<last>.swap`: from that rename on the replacement is decided, and the log (or, after
// a crash, recovery) finishes it by removing the old segments and renaming the swap file to
// `<first>.log`. Until then the old segments are untouched. Protocol: docs/storage-format.md,
// "Replacing segments".

import type { LogDisk, LogFile } from './disk.js';
import { RECORD_PAYLOAD_BYTES_MAX, cleanedFileName, encodeRecordInto, recordBytes, segmentHeader, swapFileName } from './record-format.js';

/** A replacement being written; see Log.replaceSegments. */
export interface SegmentRewriter {
  /** Id of the replacement segment: the first replaced one's. */
  readonly segment: number;
  /** Bytes of the replacement so far (segment header included): where the next record goes. */
  readonly bytes: number;
  /** Adds a record (same format as Log.append); resolves with its byte position once buffered. */
  append(type: number, payload: Buffer | readonly Buffer[]): Promise<number>;
  /**
   * Makes the replacement durable and swaps it in for the old segments, crash-safely. `onSwitch`
   * runs synchronously at the moment readers start seeing the new segment instead of the old ones
   * (the caller swaps its own indexes there). Rejects, leaving the old segments, if they changed
   * (deleted meanwhile) or the replacement could not be made durable.
   */
  commit(onSwitch?: () => void): Promise<void>;
  /** Drops the replacement; the old segments stay. */
  abort(): Promise<void>;
}

/** What the log does once the swap file is durable (SegmentedLog.installReplacement). */
export type InstallReplacement = (first: number, last: number, bytes: number, swapName: string, onSwitch: (() => void) | undefined) => Promise<void>;

export class SegmentRewrite implements SegmentRewriter {
  private file: LogFile | undefined;
  private opening: Promise<LogFile> | undefined;
  private buf: Buffer;
  private used = 0;
  /** Bytes already handed to the file. */
  private written = 0;
  private done = false;

  constructor(
    private readonly disk: LogDisk,
    readonly segment: number,
    private readonly last: number,
    private readonly bufferBytes: number,
    private readonly install: InstallReplacement,
  ) {
    this.buf = Buffer.allocUnsafe(bufferBytes);
    segmentHeader().copy(this.buf, 0);
    this.used = segmentHeader().length;
  }

  get bytes(): number {
    return this.written + this.used;
  }

  private get name(): string {
    return cleanedFileName(this.segment);
  }

  private async handle(): Promise<LogFile> {
    if (this.file) return this.file;
    this.opening ??= (async () => {
      // A leftover from an attempt this process gave up on (recovery removes those of crashed ones).
      await this.disk.remove(this.name).catch(() => {});
      const f = await this.disk.open(this.name, 'create');
      this.file = f;
      return f;
    })();
    return this.opening;
  }

  async append(type: number, payload: Buffer | readonly Buffer[]): Promise<number> {
    if (this.done) throw new Error('the segment replacement is finished');
    if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`record type ${type} is not in 0..255`);
    let payloadBytes = 0;
    if (Buffer.isBuffer(payload)) payloadBytes = payload.length;
    else for (const part of payload) payloadBytes += part.length;
    if (payloadBytes > RECORD_PAYLOAD_BYTES_MAX) throw new RangeError(`payload of ${payloadBytes} bytes is too big`);
    const size = recordBytes(payloadBytes);
    if (this.used + size > this.buf.length) {
      await this.flush();
      if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size); // one oversized record
    }
    const position = this.bytes;
    encodeRecordInto(this.buf, this.used, type, payload, payloadBytes);
    this.used += size;
    return position;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const f = await this.handle();
    await f.writev([this.buf.subarray(0, this.used)], this.written);
    this.written += this.used;
    this.used = 0;
    if (this.buf.length > this.bufferBytes) this.buf = Buffer.allocUnsafe(this.bufferBytes);
  }

  async commit(onSwitch?: () => void): Promise<void> {
    if (this.done) throw new Error('the segment replacement is finished');
    this.done = true;
    try {
      await this.flush();
      const f = await this.handle();
      await f.datasync();
      await f.close();
      this.file = undefined;
    } catch (err) {
      await this.discard();
      throw err;
    }
    await this.install(this.segment, this.last, this.written, swapFileName(this.segment, this.last), onSwitch);
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    await this.opening?.catch(() => {});
    await this.file?.close().catch(() => {});
    this.file = undefined;
    if (this.opening) await this.disk.remove(this.name).catch(() => {});
  }
}
