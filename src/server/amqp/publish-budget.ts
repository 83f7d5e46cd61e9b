// Bounds the publish data one AMQP connection can make the broker hold
// (docs/limits.md): RabbitMQ's credit flow in its simplest form. Bytes count
// from the moment they are read until the broker is done with them:
//
//   - content being assembled (body frames of a message not complete yet),
//   - publishes queued on a channel behind an unfinished command (its backlog),
//   - publishes on a confirm channel waiting for their confirm (fsync),
//   - output the client has not read yet (confirms, basic.return of mandatory
//     publishes with their bodies, deliveries).
//
// Above the budget the connection stops reading its socket: TCP backpressure
// then slows the publisher down, however many confirms or returns it leaves unread.

/** Reading resumes once the bytes held fall to this fraction of the budget (hysteresis). */
const RESUME_FRACTION = 0.5;

export interface PublishBudgetHost {
  pauseReading(key: string): void;
  resumeReading(key: string): void;
}

export interface PublishBudgetView {
  /** Bytes held now: waiting (backlog, confirms), being assembled, and output not read yet. */
  readonly bytes: number;
  /** The most ever held at once on this connection. */
  readonly peakBytes: number;
  /** Whether reading is paused for the budget now. */
  readonly paused: boolean;
  /** How many times reading was paused for the budget. */
  readonly pauses: number;
}

export class PublishBudget implements PublishBudgetView {
  private waitingBytes = 0;
  private assemblingBytes = 0;
  private outputBytes = 0;
  peakBytes = 0;
  paused = false;
  pauses = 0;
  private closing = false;

  constructor(
    private readonly host: PublishBudgetHost,
    /** 0 = no limit. */
    private readonly maxBytes: number,
    private readonly key = 'publish-budget',
  ) {}

  get bytes(): number {
    return this.waitingBytes + this.assemblingBytes + this.outputBytes;
  }

  /** Publish data that waits for something other than more input (a backlog, an fsync). */
  hold(bytes: number): void {
    this.waitingBytes += bytes;
    this.notePeak();
  }

  release(bytes: number): void {
    this.waitingBytes = Math.max(0, this.waitingBytes - bytes);
    this.maybeResume();
  }

  /** Output queued for the client changed (written, or drained). */
  outputChanged(bytes: number): void {
    this.outputBytes = bytes;
    this.maybeResume();
  }

  private maybeResume(): void {
    if (this.paused && (this.drainingBytes() === 0 || this.bytes <= this.maxBytes * RESUME_FRACTION)) {
      this.paused = false;
      this.host.resumeReading(this.key);
    }
  }

  /** Bytes that go away without more input: waiting for a backlog or an fsync, or for the client to read. */
  private drainingBytes(): number {
    return this.waitingBytes + this.outputBytes;
  }

  /**
   * After each read: the assembler's partial content and the output not yet read by
   * the client, then pause if over budget. Only bytes that go away without more input
   * can pause reading: partial content alone never does, since it needs more input to
   * finish (pausing then would deadlock).
   */
  afterRead(assemblingBytes: number, outputBytes: number): void {
    this.assemblingBytes = assemblingBytes;
    this.outputBytes = outputBytes;
    this.notePeak();
    if (this.maxBytes <= 0 || this.closing || this.paused || this.drainingBytes() === 0 || this.bytes <= this.maxBytes) return;
    this.paused = true;
    this.pauses++;
    this.host.pauseReading(this.key);
  }

  /** The connection is closing: it must read the client's close-ok, so the budget no longer pauses it. */
  close(): void {
    this.closing = true;
    if (!this.paused) return;
    this.paused = false;
    this.host.resumeReading(this.key);
  }

  private notePeak(): void {
    const b = this.bytes;
    if (b > this.peakBytes) this.peakBytes = b;
  }
}
