// `wharf cluster dev`: a private etcd and N nodes on loopback; `wharf cluster
// status` against one of them; Ctrl-C (SIGINT) stops every node and etcd and
// removes etcd's data dir.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { waitUntil } from '../../helpers/async.js';
import { runWharf, startWharf } from '../../helpers/cli.js';

describe('wharf cluster dev', () => {
  it('starts etcd and two nodes, which see each other; SIGINT stops it all', { timeout: 90_000 }, async () => {
    const dev = startWharf(['cluster', 'dev', '--nodes', '2']);
    try {
      await waitUntil(() => dev.stdout().includes('Ctrl-C stops every node and etcd'), 'the cluster is up', 60_000);
      const out = dev.stdout();
      const etcd = /^etcd (http:\/\/127\.0\.0\.1:\d+) \(data (\S+)\)$/m.exec(out);
      assert.ok(etcd, out);
      const rows = out.split('\n').filter((l) => /^n\d\s/.test(l));
      assert.deepEqual(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['n1 up', 'n2 up']);
      const http = /wharf cluster status --url (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(http);
      await waitUntil(async () => {
        const r = await runWharf(['cluster', 'status', '--url', http, '--json']);
        const nodes = JSON.parse(r.stdout) as { name: string; running: boolean }[];
        return nodes.filter((n) => n.running).length === 2;
      }, 'both nodes up in the cluster');
      dev.child.kill('SIGINT');
      const done = await dev.exited;
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /stopping the cluster/);
      assert.equal(existsSync(etcd[2]), false, "etcd's data dir is removed");
      await assert.rejects(fetch(`${etcd[1]}/health`), 'etcd is stopped');
    } finally {
      if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    }
  });
});
