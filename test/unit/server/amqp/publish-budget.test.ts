// PublishBudget's rules (docs/limits.md): pause above the budget only while held
// bytes will drain without more input, resume at half, stop pausing when closing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PublishBudget } from '../../../../src/server/amqp/publish-budget.js';

function budget(maxBytes: number): { b: PublishBudget; events: string[] } {
  const events: string[] = [];
  const b = new PublishBudget({ pauseReading: (k) => events.push(`pause ${k}`), resumeReading: (k) => events.push(`resume ${k}`) }, maxBytes, 'k');
  return { b, events };
}

describe('PublishBudget', () => {
  it('pauses after a read that leaves more than the budget held, and resumes at half of it', () => {
    const { b, events } = budget(1000);
    b.hold(600);
    b.afterRead(0, 0);
    assert.deepEqual(events, []);
    b.hold(500);
    b.afterRead(0, 0);
    assert.deepEqual(events, ['pause k']);
    assert.equal(b.paused, true);
    b.release(500); // 600 left: above half
    assert.deepEqual(events, ['pause k']);
    b.release(200); // 400: at most half
    assert.deepEqual(events, ['pause k', 'resume k']);
    assert.deepEqual([b.bytes, b.peakBytes, b.pauses, b.paused], [400, 1100, 1, false]);
  });

  it('counts content being assembled, but never pauses for it alone (it needs more input to finish)', () => {
    const { b, events } = budget(1000);
    b.afterRead(5000, 0);
    assert.deepEqual(events, []);
    assert.equal(b.peakBytes, 5000);
    b.hold(10);
    b.afterRead(5000, 0);
    assert.deepEqual(events, ['pause k']);
    b.release(10); // nothing left that drains by itself: read again
    assert.deepEqual(events, ['pause k', 'resume k']);
  });

  it('counts output the client has not read, and resumes when it drains', () => {
    const { b, events } = budget(1000);
    b.afterRead(0, 2000);
    assert.deepEqual(events, ['pause k']);
    b.outputChanged(600);
    assert.deepEqual(events, ['pause k']);
    b.outputChanged(0);
    assert.deepEqual(events, ['pause k', 'resume k']);
    assert.equal(b.peakBytes, 2000);
  });

  it('0 means no limit; close() resumes and stops pausing', () => {
    const unlimited = budget(0);
    unlimited.b.hold(1e12);
    unlimited.b.afterRead(0, 0);
    assert.deepEqual(unlimited.events, []);
    const { b, events } = budget(10);
    b.hold(100);
    b.afterRead(0, 0);
    b.close();
    b.afterRead(0, 0);
    assert.deepEqual(events, ['pause k', 'resume k']);
  });
});
