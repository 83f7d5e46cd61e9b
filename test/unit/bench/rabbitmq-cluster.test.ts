// runningNodes: the running members out of `rabbitmqctl cluster_status --formatter json`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runningNodes } from '../../../bench/lib/rabbitmq-cluster.js';

test('runningNodes reads running_nodes, skipping any text before the JSON', () => {
  const out = 'Cluster status of node rabbit1@localhost ...\n{"cluster_name":"rabbit1@localhost","disk_nodes":["rabbit1@localhost","rabbit2@localhost"],"running_nodes":["rabbit2@localhost","rabbit1@localhost"]}\n';
  assert.deepEqual(runningNodes(out), ['rabbit2@localhost', 'rabbit1@localhost']);
});

test('runningNodes is empty when there is no JSON or no running_nodes', () => {
  assert.deepEqual(runningNodes('Error: unable to perform an operation on node'), []);
  assert.deepEqual(runningNodes('{"disk_nodes":["rabbit1@localhost"]}'), []);
});
