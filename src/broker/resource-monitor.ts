// Broker-wide resource alarms, as RabbitMQ's memory and free-disk alarms: an
// alarm is in effect while the process's memory (RSS) is above the high
// watermark, or while free space on the data directory's filesystem is below
// the limit. One unref'd interval samples memory every second and the disk
// every few seconds (every second once free space nears the limit), never per
// message. Listeners hear each change of the set of alarms in effect; the AMQP
// layer uses it to block publishing connections. No sockets here.

import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import type { Logger } from '../util/logger.js';

export type ResourceAlarm = 'memory' | 'disk';

/** RabbitMQ's vm_memory_high_watermark: a fraction of total RAM, or bytes. */
export type MemoryHighWatermark = { readonly relative: number } | { readonly bytes: number };

/** RabbitMQ's disk_free_limit: bytes, or a multiple of total RAM ({mem_relative, N}). */
export type DiskFreeLimit = { readonly bytes: number } | { readonly memRelative: number };

export interface ResourceLimits {
  readonly memoryHighWatermark: MemoryHighWatermark;
  readonly diskFreeLimit: DiskFreeLimit;
}

/** RabbitMQ 3.x's defaults: 40% of RAM, 50 MB of free disk. */
export const DEFAULT_RESOURCE_LIMITS: ResourceLimits = {
  memoryHighWatermark: { relative: 0.4 },
  diskFreeLimit: { bytes: 50_000_000 },
};

export interface ResourceStatus {
  /** Alarms in effect, memory first. */
  readonly alarms: ResourceAlarm[];
  readonly memory: {
    readonly usedBytes: number;
    readonly limitBytes: number;
    readonly highWatermark: MemoryHighWatermark;
  };
  readonly disk: {
    /** null until the first successful measurement (or where the platform cannot tell). */
    readonly freeBytes: number | null;
    readonly limitBytes: number;
    readonly freeLimit: DiskFreeLimit;
  };
}

/** Where the numbers come from; unit tests pass a fake. */
export interface ResourceProbe {
  rssBytes(): number;
  totalMemoryBytes(): number;
  freeDiskBytes(dir: string): Promise<number>;
}

export const systemProbe: ResourceProbe = {
  // RSS is what the OS (and its OOM killer) counts against the process: heap,
  // Buffers outside the heap and native memory alike.
  rssBytes: () => process.memoryUsage.rss(),
  // A cgroup limit (containers) is the RAM the process really has.
  totalMemoryBytes: () => {
    const total = totalmem();
    const constrained = process.constrainedMemory();
    return constrained > 0 && constrained < total ? constrained : total;
  },
  // Space available to an unprivileged writer, as df's "Avail".
  freeDiskBytes: async (dir) => {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  },
};

export interface ResourceMonitorOptions {
  /** The directory whose filesystem's free space is watched. */
  readonly dir: string;
  readonly logger: Logger;
  readonly limits?: Partial<ResourceLimits>;
  readonly probe?: ResourceProbe;
  readonly tickMs?: number;
}

export type AlarmListener = (alarms: readonly ResourceAlarm[]) => void;

/** Memory is sampled every tick (RabbitMQ: about once a second). */
const TICK_MS = 1000;
/** Disk is sampled every this many ticks, and every tick while free space is within twice the limit. */
const DISK_EVERY_TICKS = 5;

export class ResourceMonitor {
  private limits: ResourceLimits;
  private readonly probe: ResourceProbe;
  private readonly log: Logger;
  private readonly listeners = new Set<AlarmListener>();
  private readonly active = new Set<ResourceAlarm>();
  private alarmList: readonly ResourceAlarm[] = [];
  private usedBytes = 0;
  private freeBytes: number | null = null;
  private diskCheck: Promise<void> | undefined;
  private diskErrorLogged = false;
  private ticks = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: ResourceMonitorOptions) {
    this.limits = checkLimits({ ...DEFAULT_RESOURCE_LIMITS, ...definedOnly(opts.limits ?? {}) });
    this.probe = opts.probe ?? systemProbe;
    this.log = opts.logger;
  }

  /** Takes the first measurements, then samples on an unref'd interval. */
  async start(): Promise<void> {
    this.logLimits();
    await this.check();
    if (this.stopped || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  /** Alarms in effect, memory first; empty when publishing is allowed. */
  get alarms(): readonly ResourceAlarm[] {
    return this.alarmList;
  }

  /** Calls `fn` on every change of the alarms in effect; returns the unsubscribe function. */
  onChange(fn: AlarmListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  status(): ResourceStatus {
    return {
      alarms: [...this.alarmList],
      memory: { usedBytes: this.usedBytes, limitBytes: this.memoryLimitBytes(), highWatermark: this.limits.memoryHighWatermark },
      disk: { freeBytes: this.freeBytes, limitBytes: this.diskLimitBytes(), freeLimit: this.limits.diskFreeLimit },
    };
  }

  /**
   * Changes thresholds at runtime (rabbitmqctl set_vm_memory_high_watermark /
   * set_disk_free_limit) and resolves once alarms reflect them.
   */
  async setLimits(limits: Partial<ResourceLimits>): Promise<ResourceStatus> {
    this.limits = checkLimits({ ...this.limits, ...definedOnly(limits) });
    this.logLimits();
    await this.check();
    return this.status();
  }

  /** Samples memory and disk now. */
  async check(): Promise<void> {
    this.checkMemory();
    await this.checkDisk();
  }

  private tick(): void {
    this.ticks++;
    this.checkMemory();
    const nearLimit = this.freeBytes !== null && this.freeBytes < 2 * this.diskLimitBytes();
    if (nearLimit || this.ticks % DISK_EVERY_TICKS === 0) void this.checkDisk();
  }

  private checkMemory(): void {
    this.usedBytes = this.probe.rssBytes();
    const limitBytes = this.memoryLimitBytes();
    this.setAlarm('memory', this.usedBytes > limitBytes, { usedBytes: this.usedBytes, limitBytes });
  }

  /** One statfs at a time; its result is judged against the limits current when it returns. */
  private checkDisk(): Promise<void> {
    this.diskCheck ??= this.probe
      .freeDiskBytes(this.opts.dir)
      .then(
        (freeBytes) => {
          this.freeBytes = freeBytes;
          this.diskErrorLogged = false;
          const limitBytes = this.diskLimitBytes();
          this.setAlarm('disk', freeBytes < limitBytes, { freeBytes, limitBytes, dir: this.opts.dir });
        },
        (err: unknown) => {
          // Like RabbitMQ on a platform it cannot measure: no new alarm, say so once.
          if (!this.diskErrorLogged) this.log.warn('cannot measure free disk space', { dir: this.opts.dir, error: String(err) });
          this.diskErrorLogged = true;
        },
      )
      .finally(() => {
        this.diskCheck = undefined;
      });
    return this.diskCheck;
  }

  private setAlarm(alarm: ResourceAlarm, on: boolean, numbers: object): void {
    if (this.stopped || on === this.active.has(alarm)) return;
    if (on) {
      this.active.add(alarm);
      this.log.warn(`${alarm} alarm set: publishing connections are blocked`, { ...numbers, alarm });
    } else {
      this.active.delete(alarm);
      this.log.warn(`${alarm} alarm cleared`, { ...numbers, alarm });
    }
    this.alarmList = (['memory', 'disk'] as const).filter((a) => this.active.has(a));
    for (const fn of this.listeners) {
      try {
        fn(this.alarmList);
      } catch (err) {
        this.log.error('alarm listener failed', { error: err instanceof Error ? err.stack : String(err) });
      }
    }
  }

  private memoryLimitBytes(): number {
    const w = this.limits.memoryHighWatermark;
    return 'bytes' in w ? w.bytes : Math.floor(w.relative * this.probe.totalMemoryBytes());
  }

  private diskLimitBytes(): number {
    const l = this.limits.diskFreeLimit;
    return 'bytes' in l ? l.bytes : Math.floor(l.memRelative * this.probe.totalMemoryBytes());
  }

  private logLimits(): void {
    this.log.info('resource limits', {
      memoryLimitBytes: this.memoryLimitBytes(),
      totalMemoryBytes: this.probe.totalMemoryBytes(),
      diskFreeLimitBytes: this.diskLimitBytes(),
      dir: this.opts.dir,
    });
  }
}

function definedOnly(l: Partial<ResourceLimits>): Partial<ResourceLimits> {
  const out: { -readonly [K in keyof ResourceLimits]?: ResourceLimits[K] } = {};
  if (l.memoryHighWatermark !== undefined) out.memoryHighWatermark = l.memoryHighWatermark;
  if (l.diskFreeLimit !== undefined) out.diskFreeLimit = l.diskFreeLimit;
  return out;
}

function checkLimits(l: ResourceLimits): ResourceLimits {
  if (!oneAmount(l.memoryHighWatermark, 'relative', 'bytes')) {
    throw new RangeError(`memoryHighWatermark must be { relative: fraction } or { bytes: n }, >= 0; got ${JSON.stringify(l.memoryHighWatermark)}`);
  }
  if (!oneAmount(l.diskFreeLimit, 'bytes', 'memRelative')) {
    throw new RangeError(`diskFreeLimit must be { bytes: n } or { memRelative: factor }, >= 0; got ${JSON.stringify(l.diskFreeLimit)}`);
  }
  return l;
}

/** An object with exactly one key, one of `a` or `b`, holding a finite number >= 0. */
function oneAmount(o: unknown, a: string, b: string): boolean {
  if (typeof o !== 'object' || o === null) return false;
  const keys = Object.keys(o);
  if (keys.length !== 1 || (keys[0] !== a && keys[0] !== b)) return false;
  const v = (o as Record<string, unknown>)[keys[0]];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
