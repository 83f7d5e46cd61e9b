import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusTable } from '../../../src/cli/admin/cluster.js';

describe('wharf cluster status table', () => {
  it('one row per node: up or down, addresses, leaders as resource@epoch', () => {
    const text = statusTable([
      { name: 'n1', running: true, addresses: { amqp: 'h1:5672', kafka: 'h1:9092', http: 'h1:15672' }, leaders: [{ resource: 'controller', epoch: 3 }, { resource: 'queue/%2F/q', epoch: 1 }] },
      { name: 'n2', running: false, addresses: { amqp: 'h2:5672' }, leaders: [] },
      // A RabbitMQ /api/nodes entry (no Wharf fields): up, nothing else known.
      { name: 'rabbit@x' },
    ]);
    assert.deepEqual(text.trimEnd().split('\n').map((l) => l.split(/\s{2,}/)), [
      ['name', 'state', 'amqp', 'kafka', 'http', 'leaders (resource@epoch)'],
      ['n1', 'up', 'h1:5672', 'h1:9092', 'h1:15672', 'controller@3 queue/%2F/q@1'],
      ['n2', 'down', 'h2:5672'],
      ['rabbit@x', 'up'],
    ]);
  });
});
