import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellText, formatTable, pick } from '../../../src/cli/admin/table.js';

describe('cli admin: table formatter', () => {
  it('pads columns to the widest cell, numbers to the right, no trailing spaces', () => {
    const text = formatTable(
      [{ header: 'name', value: 'name' }, { header: 'messages', value: 'messages' }, { header: 'policy', value: 'policy' }],
      [{ name: 'orders', messages: 120 }, { name: 'q', messages: 5, policy: 'p' }],
    );
    assert.equal(text, 'name    messages  policy\norders       120\nq              5  p\n');
  });

  it('dotted paths, functions, objects as JSON, empty objects and lists as nothing, control characters escaped', () => {
    const item = { queue: { name: 'a' }, args: { 'x-max-length': 1 }, none: {}, list: [], text: 'two\nlines' };
    assert.equal(pick(item, 'queue.name'), 'a');
    assert.equal(pick(item, 'queue.missing.deeper'), undefined);
    assert.equal(cellText(item.args), '{"x-max-length":1}');
    assert.equal(cellText(item.none), '');
    assert.equal(cellText(item.list), '');
    assert.equal(cellText(item.text), 'two\\nlines');
    assert.equal(cellText(null), '');
    assert.equal(formatTable([{ header: 'n', value: (i) => String(i.text).length }], [item]), 'n\n9\n');
  });

  it('an empty list is the header alone', () => {
    assert.equal(formatTable([{ header: 'name', value: 'name' }, { header: 'type', value: 'type' }], []), 'name  type\n');
  });
});
