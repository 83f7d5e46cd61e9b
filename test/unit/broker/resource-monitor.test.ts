import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ResourceMonitor,
  systemProbe,
  type ResourceAlarm,
  type ResourceLimits,
  type ResourceProbe,
} from '../../../src/broker/resource-monitor.js';
import { createLogger } from '../../../src/util/logger.js';
import { waitUntil } from '../../helpers/async.js';

/** A probe whose numbers the test sets. */
class FakeProbe implements ResourceProbe {
  rss = 100;
  total = 1000;
  free = 1e12;
  diskError: Error | undefined;
  diskCalls = 0;
  rssBytes(): number {
    return this.rss;
  }
  totalMemoryBytes(): number {
    return this.total;
  }
  async freeDiskBytes(): Promise<number> {
    this.diskCalls++;
    if (this.diskError) throw this.diskError;
    return this.free;
  }
}

function setup(limits: Partial<ResourceLimits> = {}) {
  const probe = new FakeProbe();
  const lines: string[] = [];
  const monitor = new ResourceMonitor({ dir: '/data', logger: createLogger('info', (l) => lines.push(l)), limits, probe });
  const changes: (readonly ResourceAlarm[])[] = [];
  monitor.onChange((alarms) => changes.push([...alarms]));
  return { probe, monitor, changes, lines, warnings: () => lines.filter((l) => / warn /.test(l)) };
}

describe('ResourceMonitor', () => {
  it('memory alarm against a fraction of total RAM: set above, cleared at or below', async () => {
    const { probe, monitor, changes } = setup({ memoryHighWatermark: { relative: 0.4 } });
    await monitor.check();
    assert.deepEqual(monitor.alarms, []);
    assert.equal(monitor.status().memory.limitBytes, 400);
    probe.rss = 401;
    await monitor.check();
    assert.deepEqual(monitor.alarms, ['memory']);
    await monitor.check(); // no change, no event
    probe.rss = 400;
    await monitor.check();
    assert.deepEqual(monitor.alarms, []);
    assert.deepEqual(changes, [['memory'], []]);
  });

  it('memory alarm against bytes; a watermark of 0 blocks all publishing (as RabbitMQ)', async () => {
    const { probe, monitor } = setup({ memoryHighWatermark: { bytes: 150 } });
    await monitor.check();
    assert.deepEqual(monitor.alarms, []);
    probe.rss = 151;
    await monitor.check();
    assert.deepEqual(monitor.alarms, ['memory']);
    const status = await monitor.setLimits({ memoryHighWatermark: { relative: 0 } });
    assert.equal(status.memory.limitBytes, 0);
    assert.deepEqual(status.alarms, ['memory']);
  });

  it('disk alarm against bytes or a multiple of RAM', async () => {
    const { probe, monitor } = setup({ diskFreeLimit: { bytes: 5000 } });
    await monitor.check();
    assert.deepEqual(monitor.alarms, []);
    assert.equal(monitor.status().disk.freeBytes, 1e12);
    probe.free = 4999;
    await monitor.check();
    assert.deepEqual(monitor.alarms, ['disk']);
    const status = await monitor.setLimits({ diskFreeLimit: { memRelative: 2 } });
    assert.equal(status.disk.limitBytes, 2000);
    assert.deepEqual(status.alarms, []);
    assert.deepEqual(status.disk.freeLimit, { memRelative: 2 });
  });

  it('lists both alarms, memory first, whichever came first', async () => {
    const { probe, monitor, changes } = setup({ memoryHighWatermark: { bytes: 100 }, diskFreeLimit: { bytes: 100 } });
    probe.free = 50;
    await monitor.check();
    probe.rss = 200;
    await monitor.check();
    assert.deepEqual(changes, [['disk'], ['memory', 'disk']]);
    probe.free = 500;
    await monitor.check();
    probe.rss = 50;
    await monitor.check();
    assert.deepEqual(changes.slice(2), [['memory'], []]);
  });

  it('setLimits changes one limit and keeps the other', async () => {
    const { monitor } = setup({ memoryHighWatermark: { bytes: 123 }, diskFreeLimit: { bytes: 456 } });
    const s1 = await monitor.setLimits({ diskFreeLimit: { bytes: 7 } });
    assert.deepEqual(s1.memory.highWatermark, { bytes: 123 });
    assert.deepEqual(s1.disk.freeLimit, { bytes: 7 });
    const s2 = await monitor.setLimits({ memoryHighWatermark: undefined });
    assert.deepEqual(s2.memory.highWatermark, { bytes: 123 });
  });

  it('defaults to RabbitMQ 3.x limits: 0.4 of RAM and 50 MB free', () => {
    const { monitor } = setup();
    const s = monitor.status();
    assert.deepEqual(s.memory.highWatermark, { relative: 0.4 });
    assert.deepEqual(s.disk.freeLimit, { bytes: 50_000_000 });
    assert.equal(s.disk.freeBytes, null, 'not measured yet');
  });

  it('refuses limits that are not one non-negative finite number', async () => {
    const bad: Partial<ResourceLimits>[] = [
      { memoryHighWatermark: { relative: -0.1 } },
      { memoryHighWatermark: { bytes: Number.POSITIVE_INFINITY } },
      { memoryHighWatermark: { relative: 0.4, bytes: 1 } as never },
      { memoryHighWatermark: { memRelative: 1 } as never },
      { diskFreeLimit: { bytes: Number.NaN } },
      { diskFreeLimit: { relative: 1 } as never },
      { diskFreeLimit: 50 as never },
    ];
    for (const limits of bad) {
      assert.throws(() => setup(limits), RangeError, JSON.stringify(limits));
      const { monitor } = setup();
      await assert.rejects(monitor.setLimits(limits), RangeError);
      assert.deepEqual(monitor.status().memory.highWatermark, { relative: 0.4 }, 'a refused change changes nothing');
    }
  });

  it('logs set and clear at warn level with the numbers', async () => {
    const { probe, monitor, warnings } = setup({ memoryHighWatermark: { bytes: 100 }, diskFreeLimit: { bytes: 100 } });
    probe.rss = 200;
    probe.free = 50;
    await monitor.check();
    probe.rss = 10;
    probe.free = 500;
    await monitor.check();
    const w = warnings();
    assert.equal(w.length, 4);
    assert.match(w[0], /warn memory alarm set: publishing connections are blocked usedBytes=200 limitBytes=100/);
    assert.match(w[1], /warn disk alarm set: publishing connections are blocked freeBytes=50 limitBytes=100 dir=\/data/);
    assert.match(w[2], /warn memory alarm cleared usedBytes=10 limitBytes=100/);
    assert.match(w[3], /warn disk alarm cleared freeBytes=500 limitBytes=100/);
  });

  it('a failing disk measurement raises no alarm, keeps the last state and is logged once', async () => {
    const { probe, monitor, warnings } = setup({ diskFreeLimit: { bytes: 100 } });
    probe.free = 50;
    await monitor.check();
    assert.deepEqual(monitor.alarms, ['disk']);
    probe.diskError = new Error('ENOSYS');
    await monitor.check();
    await monitor.check();
    assert.deepEqual(monitor.alarms, ['disk']);
    assert.equal(warnings().filter((l) => l.includes('cannot measure free disk space')).length, 1);
    probe.diskError = undefined;
    probe.free = 500;
    await monitor.check();
    assert.deepEqual(monitor.alarms, []);
  });

  it('one disk measurement at a time; concurrent checks share it', async () => {
    const { probe, monitor } = setup();
    await Promise.all([monitor.check(), monitor.check(), monitor.check()]);
    assert.equal(probe.diskCalls, 1);
  });

  it('samples on its interval once started, and stop() ends it and its events', async () => {
    const probe = new FakeProbe();
    const monitor = new ResourceMonitor({
      dir: '/data',
      logger: createLogger('silent'),
      limits: { memoryHighWatermark: { bytes: 500 } },
      probe,
      tickMs: 5,
    });
    const changes: (readonly ResourceAlarm[])[] = [];
    monitor.onChange((a) => changes.push([...a]));
    await monitor.start();
    try {
      probe.rss = 600;
      await waitUntil(() => changes.length === 1, 'the interval notices the memory use');
      assert.deepEqual(changes, [['memory']]);
      await waitUntil(() => probe.diskCalls > 1, 'the interval measures the disk too');
    } finally {
      monitor.stop();
    }
    probe.rss = 0;
    await monitor.check();
    assert.deepEqual(changes, [['memory']], 'no events after stop');
  });

  it('a throwing listener does not stop the others', async () => {
    const { probe, monitor, lines } = setup({ memoryHighWatermark: { bytes: 1 } });
    const seen: string[] = [];
    monitor.onChange(() => {
      throw new Error('boom');
    });
    monitor.onChange((a) => seen.push(a.join()));
    probe.rss = 2;
    await monitor.check();
    assert.deepEqual(seen, ['memory']);
    assert.ok(lines.some((l) => / error alarm listener failed /.test(l)));
  });

  it('the system probe measures this process and this filesystem', async () => {
    assert.ok(systemProbe.rssBytes() > 0);
    assert.ok(systemProbe.totalMemoryBytes() >= systemProbe.rssBytes());
    assert.ok((await systemProbe.freeDiskBytes('.')) >= 0);
  });
});
