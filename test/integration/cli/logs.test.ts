// `wharf serve --log-format json`: every line on stderr is one JSON object with
// time, level and msg, and the events operators ship logs for are there, once
// each: connection opened and closed, authentication failures (AMQP and the
// management API), alarms, definitions imports. Wharf's own logs: nothing to
// compare with in reference mode.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { connect } from 'amqplib';
import { skipUnderReference, makeDataDir, spawnBroker } from '../../helpers/broker.js';
import { uniqueName, waitUntil } from '../../helpers/async.js';
import { runWharf } from '../../helpers/cli.js';

const OPTS = { timeout: 90_000 } as const;

interface LogLine {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** Every line parsed; a line that is not a JSON object with time, level and msg fails the test. */
function parseLines(stderr: string): LogLine[] {
  return stderr.split('\n').filter((l) => l !== '').map((line) => {
    const o = JSON.parse(line) as LogLine;
    assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level), line);
    assert.equal(typeof o.msg, 'string', line);
    return o;
  });
}

describe('logs: --log-format json', { skip: skipUnderReference }, () => {
  it('one JSON object per line, and one line per operator event', OPTS, async () => {
    const dataDir = await makeDataDir();
    // 1000 bytes of memory: the memory alarm is set at start and stays set.
    const broker = await spawnBroker(dataDir, ['--log-level', 'info', '--log-format', 'json', '--memory-high-watermark', '1000B']);
    try {
      const lines = (): LogLine[] => parseLines(broker.stderr());
      const find = (msg: string, match: Record<string, unknown> = {}): LogLine[] =>
        lines().filter((l) => l.msg === msg && Object.entries(match).every(([k, v]) => l[k] === v));

      const conn = await connect(urlParts(broker.port), { clientProperties: { product: 'logs-suite' } });
      await waitUntil(() => find('connection opened', { client: 'logs-suite' }).length === 1, 'connection opened');
      const [opened] = find('connection opened', { client: 'logs-suite' });
      assert.equal(opened.level, 'info');
      assert.equal(opened.user, 'guest');
      assert.equal(opened.vhost, '/');
      assert.match(String(opened.peer), /^127\.0\.0\.1:\d+$/);
      await conn.close();
      await waitUntil(() => find('connection closed', { conn: opened.conn }).length > 0, 'connection closed');

      await assert.rejects(connect({ ...urlParts(broker.port), password: 'wrong' }));
      await waitUntil(() => find('authentication failed', { protocol: 'amqp' }).length > 0, 'AMQP authentication failure');
      const http = `http://127.0.0.1:${broker.httpPort}`;
      const denied = await runWharf(['queues', '--url', http, '--password', 'wrong']);
      assert.equal(denied.code, 1);
      await waitUntil(() => find('authentication failed', { protocol: 'http' }).length > 0, 'HTTP authentication failure');

      const q = uniqueName('logs-def');
      const imported = await runWharf(['definitions', 'import', '-', '--url', http], {
        input: JSON.stringify({ queues: [{ name: q, vhost: '/', durable: true, auto_delete: false, arguments: {} }], policies: [] }),
      });
      assert.equal(imported.code, 0, imported.stderr);
      await waitUntil(() => find('definitions imported').length > 0, 'definitions imported');

      // A second connection, so that its lines show the first one's were not repeated.
      const second = await connect(urlParts(broker.port));
      await second.close();
      await waitUntil(() => find('connection closed').length === 2, 'the second connection closed');

      assert.equal(find('connection opened', { client: 'logs-suite' }).length, 1);
      const [closed] = find('connection closed', { conn: opened.conn });
      assert.deepEqual({ level: closed.level, user: closed.user, vhost: closed.vhost, reason: closed.reason },
        { level: 'info', user: 'guest', vhost: '/', reason: 'client closed the connection' });
      assert.equal(find('connection closed', { conn: opened.conn }).length, 1);

      const amqpAuth = find('authentication failed', { protocol: 'amqp' });
      assert.equal(amqpAuth.length, 1);
      assert.deepEqual({ level: amqpAuth[0].level, user: amqpAuth[0].user, mechanism: amqpAuth[0].mechanism }, { level: 'warn', user: 'guest', mechanism: 'PLAIN' });
      const httpAuth = find('authentication failed', { protocol: 'http' });
      assert.equal(httpAuth.length, 1);
      assert.equal(httpAuth[0].user, 'guest');
      assert.ok(!broker.stderr().includes('wrong'), 'passwords are never logged');

      const defs = find('definitions imported');
      assert.equal(defs.length, 1);
      assert.deepEqual({ source: defs[0].source, queues: defs[0].queues, exchanges: defs[0].exchanges, bindings: defs[0].bindings, ignored: defs[0].ignored },
        { source: "management API (user 'guest')", queues: 1, exchanges: 0, bindings: 0, ignored: 0 });

      const alarms = find('memory alarm set: publishing connections are blocked');
      assert.equal(alarms.length, 1, 'the alarm is logged when it is set, not at every check');
      assert.deepEqual({ level: alarms[0].level, alarm: alarms[0].alarm, limitBytes: alarms[0].limitBytes }, { level: 'warn', alarm: 'memory', limitBytes: 1000 });
    } finally {
      await broker.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('text stays the default', OPTS, async () => {
    const dataDir = await makeDataDir();
    const broker = await spawnBroker(dataDir, ['--log-level', 'info']);
    try {
      const conn = await connect(urlParts(broker.port));
      await conn.close();
      await waitUntil(() => /connection closed/.test(broker.stderr()), 'connection closed');
      assert.match(broker.stderr(), /^\S+Z info connection opened conn=\S+ peer=127\.0\.0\.1:\d+ user=guest vhost=\/ /m);
      assert.ok(!broker.stderr().trimStart().startsWith('{'));
    } finally {
      await broker.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

function urlParts(port: number): { protocol: string; hostname: string; port: number; username: string; password: string } {
  return { protocol: 'amqp', hostname: '127.0.0.1', port, username: 'guest', password: 'guest' };
}
