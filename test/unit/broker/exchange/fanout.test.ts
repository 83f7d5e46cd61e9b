import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FanoutRouter } from '../../../../src/broker/exchange/fanout.js';

describe('fanout router', () => {
  it('routes every message to every bound destination, once each', () => {
    const r = new FanoutRouter<string>();
    r.bind('q1', '', {});
    r.bind('q2', 'whatever', {});
    r.bind('q2', 'another', {});
    for (const key of ['', 'x', 'a.b.c', '#']) {
      const out = new Set<string>();
      r.route(key, { h: 1 }, out);
      assert.deepEqual([...out].sort(), ['q1', 'q2']);
    }
  });

  it('routes nowhere with no bindings', () => {
    const out = new Set<string>();
    new FanoutRouter<string>().route('x', undefined, out);
    assert.equal(out.size, 0);
  });

  it('keeps a destination while any of its bindings remains', () => {
    const r = new FanoutRouter<string>();
    r.bind('q', 'a', {});
    r.bind('q', 'b', {});
    r.unbind('q', 'a', {});
    const out = new Set<string>();
    r.route('', undefined, out);
    assert.deepEqual([...out], ['q']);
    r.unbind('q', 'b', {});
    out.clear();
    r.route('', undefined, out);
    assert.deepEqual([...out], []);
  });
});
