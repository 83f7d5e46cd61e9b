// RabbitMQ's own CLI, rabbitmqadmin (Debian's rabbitmq-server ships it), driving
// the management API: declare, publish, get, list, bindings, export/import of
// definitions, delete. Runs against Wharf, or RabbitMQ in reference mode.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from 'amqplib';
import { uniqueName, waitUntil, WAIT_MS } from '../../helpers/async.js';
import { skipWithoutReferenceManagement, useManagement } from '../../helpers/management.js';

const OPTS = { timeout: 60_000 } as const;
const run = promisify(execFile);

describe('rabbitmqadmin', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();

  /** Runs rabbitmqadmin (asynchronously: the broker under test may be in this process). */
  async function admin(...args: string[]): Promise<unknown> {
    const url = new URL(ctx.api.baseUrl);
    const argv = ['-H', url.hostname, '-P', url.port, '-u', 'guest', '-p', 'guest', '-f', 'raw_json', ...args];
    const { stdout } = await run('rabbitmqadmin', argv, { encoding: 'utf8', timeout: 30_000 }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`rabbitmqadmin ${args.join(' ')}: ${err.message} ${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    const out = stdout.trim();
    return out.startsWith('[') || out.startsWith('{') ? JSON.parse(out) : out;
  }

  it('declares, publishes, gets, lists and deletes', OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('adm-q'));
    const x = ctx.clients.deleteExchangeLater(uniqueName('adm-x'));
    await admin('declare', 'queue', `name=${q}`, 'durable=true', 'arguments={"x-max-length":100}');
    await admin('declare', 'exchange', `name=${x}`, 'type=fanout');
    await admin('declare', 'binding', `source=${x}`, `destination=${q}`, 'routing_key=rk');
    assert.match(String(await admin('publish', `exchange=${x}`, 'routing_key=any', 'payload=hello from rabbitmqadmin')), /Message published/);
    const ch = await ctx.clients.channel();
    assert.equal((await ch.checkQueue(q)).messageCount, 1);
    const got = await admin('get', `queue=${q}`, 'ackmode=ack_requeue_false') as Record<string, unknown>[];
    assert.equal(got.length, 1);
    assert.equal(got[0].payload, 'hello from rabbitmqadmin');
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
    const queues = await admin('list', 'queues', 'name', 'durable', 'arguments') as Record<string, unknown>[];
    const mine = queues.find((e) => e.name === q);
    assert.ok(mine);
    assert.equal(mine.durable, true);
    assert.deepEqual(mine.arguments, { 'x-max-length': 100 });
    const bindings = await admin('list', 'bindings', 'source', 'destination', 'routing_key') as Record<string, unknown>[];
    assert.ok(bindings.some((b) => b.source === x && b.destination === q && b.routing_key === 'rk'));
    assert.ok((await admin('list', 'exchanges', 'name', 'type') as Record<string, unknown>[]).some((e) => e.name === x && e.type === 'fanout'));
    assert.equal((await admin('list', 'nodes', 'name') as unknown[]).length, 1);
    const overview = await admin('show', 'overview') as Record<string, unknown>[];
    assert.equal(typeof overview[0].rabbitmq_version, 'string');
    await admin('purge', 'queue', `name=${q}`);
    await admin('delete', 'queue', `name=${q}`);
    await admin('delete', 'exchange', `name=${x}`);
    assert.ok(!(await admin('list', 'queues', 'name') as Record<string, unknown>[]).some((e) => e.name === q));
  });

  it('exports definitions and imports them back', OPTS, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-adm-'));
    try {
      const q = ctx.clients.deleteLater(uniqueName('adm-def'));
      await admin('declare', 'queue', `name=${q}`, 'durable=true');
      const file = join(dir, 'defs.json');
      await admin('export', file);
      const defs = JSON.parse(await readFile(file, 'utf8')) as { queues: { name: string }[] };
      assert.ok(defs.queues.some((d) => d.name === q));
      await admin('delete', 'queue', `name=${q}`);
      await admin('import', file);
      const ch = await ctx.clients.channel();
      await ch.checkQueue(q);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists connections, channels, consumers, users, vhosts, permissions; deletes a binding; closes a connection', OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('adm-list'));
    const conn = await connect(ctx.broker.url, { clientProperties: { connection_name: 'rabbitmqadmin-suite' } });
    const closed = new Promise<Error | undefined>((resolve) => conn.on('close', resolve));
    conn.on('error', () => {}); // the close below is the point of the test
    const ch = await conn.createChannel();
    await ch.assertQueue(q);
    await ch.bindQueue(q, 'amq.direct', 'adm-rk');
    await ch.prefetch(3);
    const { consumerTag } = await ch.consume(q, () => {});

    // RabbitMQ lists connections, channels and consumers from statistics that lag up to 5 s.
    type Row = Record<string, unknown>;
    let conns: Row[] = [];
    await waitUntil(async () => {
      conns = await admin('list', 'connections', 'name', 'user', 'channels', 'client_properties') as Row[];
      return conns.some((c) => (c.client_properties as Row | undefined)?.connection_name === 'rabbitmqadmin-suite' && c.channels === 1);
    }, 'the connection in list connections', WAIT_MS * 2);
    await waitUntil(async () => (await admin('list', 'consumers') as Row[]).some((c) => c.consumer_tag === consumerTag), 'list consumers', WAIT_MS * 2);
    await waitUntil(async () => (await admin('list', 'channels', 'name', 'prefetch_count') as Row[]).some((c) => c.prefetch_count === 3), 'list channels', WAIT_MS * 2);
    assert.ok((await admin('list', 'users', 'name') as Row[]).some((u) => u.name === 'guest'));
    assert.ok((await admin('list', 'vhosts', 'name') as Row[]).some((v) => v.name === '/'));
    assert.ok((await admin('list', 'permissions', 'user', 'vhost', 'configure') as Row[]).some((p) => p.user === 'guest' && p.vhost === '/' && p.configure === '.*'));

    const binding = (await admin('list', 'bindings', 'source', 'destination', 'properties_key') as Row[]).find((b) => b.source === 'amq.direct' && b.destination === q);
    assert.equal(binding?.properties_key, 'adm-rk');
    await admin('delete', 'binding', 'source=amq.direct', `destination=${q}`, 'destination_type=queue', 'properties_key=adm-rk');
    assert.ok(!(await admin('list', 'bindings', 'source', 'destination') as Row[]).some((b) => b.source === 'amq.direct' && b.destination === q));

    await admin('publish', 'routing_key=' + q, 'payload=with properties', 'properties={"message_id":"adm-1","headers":{"h":1}}');
    await ch.cancel(consumerTag);
    await admin('publish', 'routing_key=' + q, 'payload=second');
    const got = await admin('get', `queue=${q}`, 'count=5', 'ackmode=ack_requeue_true') as Row[];
    assert.ok(got.some((m) => m.payload === 'second'));

    const mine = conns.find((c) => (c.client_properties as Row | undefined)?.connection_name === 'rabbitmqadmin-suite');
    assert.match(String(await admin('close', 'connection', `name=${String(mine?.name)}`)), /^connection closed$/i);
    const err = await closed;
    assert.match(String(err?.message), /CONNECTION_FORCED/);
  });

  it('declares, lists and deletes policies and operator policies', OPTS, async () => {
    const name = uniqueName('adm-pol');
    const q = ctx.clients.deleteLater(uniqueName('adm-pol-q'));
    try {
      assert.match(String(await admin('declare', 'policy', `name=${name}`, `pattern=^${q}$`, 'definition={"max-length":2}', 'priority=1', 'apply-to=queues')), /policy declared/);
      assert.match(String(await admin('declare', 'operator_policy', `name=${name}`, `pattern=^${q}$`, 'definition={"max-length":1}')), /operator_policy declared/);
      const policies = (await admin('list', 'policies')) as Record<string, unknown>[];
      assert.deepEqual(policies.find((p) => p.name === name), {
        vhost: '/', name, pattern: `^${q}$`, 'apply-to': 'queues', definition: { 'max-length': 2 }, priority: 1,
      });
      const ops = (await admin('list', 'operator_policies')) as Record<string, unknown>[];
      assert.deepEqual(ops.find((p) => p.name === name)?.definition, { 'max-length': 1 });
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: false });
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from('x'));
      // The operator policy's 1 is lower than the policy's 2 (RabbitMQ applies them asynchronously).
      await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 1, 'the queue capped at 1');
    } finally {
      await admin('delete', 'policy', `name=${name}`).catch(() => undefined);
      await admin('delete', 'operator_policy', `name=${name}`).catch(() => undefined);
    }
    assert.equal(((await admin('list', 'policies')) as Record<string, unknown>[]).some((p) => p.name === name), false);
  });
});
