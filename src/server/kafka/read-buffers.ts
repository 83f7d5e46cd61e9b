// Read buffers for Fetch responses, reused once the response that carried them is written.
// Fetched batches are views of the buffers the log reads into, passed to the socket without a
// copy; allocating a fresh buffer per fetch made V8 collect garbage for "external memory
// pressure" several times a second under a fast consumer (a third of the broker's fetch CPU).
// A lease collects the buffers one response uses; the connection gives them back when the
// socket has taken the response (or the connection is gone), never earlier.

/** The smallest buffer handed out: a size class is a power of two from here. */
const CLASS_MIN_BYTES = 64 * 1024;
/** Reads bigger than this get a buffer of their own, not pooled. */
const CLASS_MAX_BYTES = 16 * 1024 * 1024;
/** Free buffers kept, in bytes, across all classes. */
const POOLED_BYTES_MAX = 32 * 1024 * 1024;

function classOf(bytes: number): number {
  let size = CLASS_MIN_BYTES;
  while (size < bytes) size *= 2;
  return size;
}

export class ReadBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private pooledBytes = 0;

  /** A lease for one response's reads. */
  lease(): ReadLease {
    return new ReadLease(this);
  }

  /** @internal */
  take(bytes: number): Buffer {
    if (bytes > CLASS_MAX_BYTES) return Buffer.allocUnsafeSlow(bytes);
    const size = classOf(bytes);
    const b = this.free.get(size)?.pop();
    if (b === undefined) return Buffer.allocUnsafeSlow(size);
    this.pooledBytes -= size;
    return b;
  }

  /** @internal */
  give(b: Buffer): void {
    const size = b.length;
    if (size > CLASS_MAX_BYTES || size !== classOf(size) || this.pooledBytes + size > POOLED_BYTES_MAX) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(b);
    this.pooledBytes += size;
  }

  /** Bytes held for reuse (for tests and metrics). */
  get bytesPooled(): number {
    return this.pooledBytes;
  }
}

export class ReadLease {
  private taken: Buffer[] = [];

  constructor(private readonly pool: ReadBufferPool) {}

  /** Partition.read's allocator: a view of `bytes` of a pooled buffer. */
  readonly alloc = (bytes: number): Buffer => {
    const b = this.pool.take(bytes);
    this.taken.push(b);
    return b.subarray(0, bytes);
  };

  /** Gives every buffer back; nothing read through this lease may be used afterwards. */
  release(): void {
    for (const b of this.taken) this.pool.give(b);
    this.taken = [];
  }
}
