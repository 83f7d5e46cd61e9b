// Definitions in RabbitMQ's JSON format: a file exported from RabbitMQ 3.10.8
// (test/fixtures/rabbitmq-3.10-definitions.json: users with password hashes, a
// vhost with limits, permissions, topic permissions, policies, an operator policy,
// classic/quorum/stream queues, exchanges, e2q and e2e bindings) imports into
// Wharf through the management API, its users log in over AMQP with their
// passwords, the export gives the same definitions back, importing twice changes
// nothing; `--definitions FILE` at start and the offline `wharf definitions`
// verbs do the same. Wharf-only: importing into the shared reference broker would
// change it (the fixture itself came from it, and RabbitMQ's import of Wharf's
// export was checked against it when this was written: 204).

import amqp from 'amqplib';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { startBroker } from '../../../src/index.js';
import { TEST_OPTS } from '../../helpers/async.js';
import { makeDataDir, skipUnderReference } from '../../helpers/broker.js';
import { ManagementApi, useManagement } from '../../helpers/management.js';

type Json = Record<string, unknown>;

const fixturePath = fileURLToPath(new URL('../../../../test/fixtures/rabbitmq-3.10-definitions.json', import.meta.url));
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as Record<string, Json[]>;
const cliPath = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

/** The entries of a section, keyed so that order does not matter. */
function keyed(list: Json[] | undefined, key: (e: Json) => string): Map<string, Json> {
  return new Map((list ?? []).map((e) => [key(e), e]));
}

/** Every entry of the fixture's section is in the export, with the same fields (the export may add some). */
function assertContains(exported: Json[] | undefined, expected: Json[], key: (e: Json) => string, section: string): void {
  const got = keyed(exported, key);
  for (const e of expected) {
    const g = got.get(key(e));
    assert.ok(g, `${section}: ${key(e)} is missing from the export`);
    for (const [k, v] of Object.entries(e)) assert.deepEqual(g[k], v, `${section}: ${key(e)}.${k}`);
  }
}

const byName = (e: Json): string => `${String(e.vhost)}/${String(e.name)}`;
const byUser = (e: Json): string => `${String(e.vhost)}/${String(e.user)}/${String(e.exchange ?? '')}`;
const byBinding = (e: Json): string => `${String(e.vhost)}/${String(e.source)}/${String(e.destination_type)}/${String(e.destination)}/${String(e.routing_key)}`;

function assertFixtureExported(d: Record<string, Json[]>): void {
  assertContains(d.users, fixture.users, (u) => String(u.name), 'users');
  assert.ok(d.vhosts.some((v) => v.name === 'defs-fixture'));
  assertContains(d.permissions, fixture.permissions, byUser, 'permissions');
  assertContains(d.topic_permissions, fixture.topic_permissions, byUser, 'topic_permissions');
  assertContains(d.parameters, fixture.parameters, (p) => `${String(p.component)}/${byName(p)}`, 'parameters');
  assertContains(d.policies, fixture.policies, byName, 'policies');
  assertContains(d.exchanges, fixture.exchanges, byName, 'exchanges');
  assertContains(d.bindings, fixture.bindings, byBinding, 'bindings');
  // Stream queues keep their type (their retention lives in the stream's own config).
  const queues = keyed(d.queues, byName);
  for (const q of fixture.queues) {
    assert.ok(queues.has(byName(q)), `queue ${byName(q)}`);
    const args = q.arguments as Json;
    if (args['x-queue-type'] !== 'stream') assert.deepEqual(queues.get(byName(q))?.arguments, args, `queue ${byName(q)} arguments`);
  }
}

async function login(port: number, user: string, password: string, vhost: string): Promise<void> {
  const conn = await amqp.connect({ hostname: '127.0.0.1', port, username: user, password, vhost });
  await conn.close();
}

describe('definitions', { skip: skipUnderReference }, () => {
  const ctx = useManagement();

  it('imports a RabbitMQ 3.10 export: hashes, vhost, permissions, limits, policies, topology; users log in with their passwords', TEST_OPTS, async () => {
    const r = await ctx.api.post('/api/definitions', fixture);
    assert.equal(r.status, 204, r.text);
    const port = ctx.broker.port;
    await login(port, 'defs-alice', 'alice-secret-pw', 'defs-fixture');
    await assert.rejects(login(port, 'defs-alice', 'wrong', 'defs-fixture'));
    const d = await ctx.api.getJson<Record<string, Json[]>>('/api/definitions');
    assertFixtureExported(d);
    // Vhost limits and the policies took effect, not just the records.
    assert.deepEqual((await ctx.api.getJson<Json[]>('/api/vhost-limits/defs-fixture'))[0]?.value, { 'max-queues': 500, 'max-connections': 100 });
    const q = await ctx.api.getJson('/api/queues/defs-fixture/alice.orders');
    assert.equal(q.policy, 'ttl-all');
    assert.equal(q.operator_policy, 'cap');
  });

  it('importing the same file twice changes nothing', TEST_OPTS, async () => {
    assert.equal((await ctx.api.post('/api/definitions', fixture)).status, 204);
    const first = await ctx.api.getJson('/api/definitions');
    assert.equal((await ctx.api.post('/api/definitions', fixture)).status, 204);
    assert.deepEqual(await ctx.api.getJson('/api/definitions'), first);
  });

  it("keeps an existing queue the file declares differently, as RabbitMQ's import does", TEST_OPTS, async () => {
    await ctx.api.post('/api/definitions', fixture);
    const other = { queues: [{ name: 'alice.orders', vhost: 'defs-fixture', durable: true, auto_delete: false, arguments: { 'x-max-length': 5 } }] };
    assert.equal((await ctx.api.post('/api/definitions', other)).status, 204);
    const q = await ctx.api.getJson('/api/queues/defs-fixture/alice.orders');
    assert.deepEqual(q.arguments, { 'x-max-length': 1000, 'x-overflow': 'reject-publish' });
  });

  it("refuses entries naming a user or vhost that does not exist with RabbitMQ's reasons", TEST_OPTS, async () => {
    const noUser = await ctx.api.post('/api/definitions', { permissions: [{ user: 'nobody-x', vhost: '/', configure: '.*', write: '.*', read: '.*' }] });
    assert.equal(noUser.status, 400);
    assert.deepEqual(noUser.json(), { error: 'bad_request', reason: ['no_such_user', 'nobody-x'] });
    const noVhost = await ctx.api.post('/api/definitions', { queues: [{ name: 'q', vhost: 'no-such-vh', durable: true, arguments: {} }] });
    assert.equal(noVhost.status, 400);
    assert.deepEqual(noVhost.json(), { error: 'bad_request', reason: ['no_such_vhost', 'no-such-vh'] });
    const notList = await ctx.api.post('/api/definitions', { users: 'x' });
    assert.equal(notList.status, 400);
  });

  it("exports one vhost in RabbitMQ's per-vhost shape and imports it into another vhost", TEST_OPTS, async () => {
    await ctx.api.post('/api/definitions', fixture);
    const one = await ctx.api.getJson<Record<string, Json[]>>('/api/definitions/defs-fixture');
    assert.deepEqual(Object.keys(one).sort(), ['bindings', 'exchanges', 'parameters', 'policies', 'queues', 'rabbit_version']);
    assert.ok(one.queues.every((q) => q.vhost === undefined));
    assert.equal((await ctx.api.put('/api/vhosts/defs-copy')).status, 201);
    assert.equal((await ctx.api.post('/api/definitions/defs-copy', one)).status, 204);
    const copy = await ctx.api.getJson<Record<string, Json[]>>('/api/definitions/defs-copy');
    assert.deepEqual(copy.queues.map((q) => q.name).sort(), one.queues.map((q) => q.name).sort());
    assert.deepEqual(copy.bindings.length, one.bindings.length);
    assert.deepEqual(copy.policies.map((p) => p.name).sort(), ['ae', 'ttl-all']);
  });
});

describe('definitions at start and offline', { skip: skipUnderReference }, () => {
  it('--definitions FILE is applied before the listeners open; a refused file stops the start', TEST_OPTS, async () => {
    const dataDir = await makeDataDir();
    const broker = await startBroker({ dataDir, amqpPort: 0, httpPort: 0, kafkaPort: 0, bind: '127.0.0.1', logLevel: 'silent', definitions: fixturePath });
    try {
      await login(broker.amqpPort, 'defs-bob', 'bob-secret-pw', 'defs-fixture');
      const api = new ManagementApi(`http://127.0.0.1:${broker.httpPort}`);
      assertFixtureExported(await api.getJson('/api/definitions'));
    } finally {
      await broker.close();
    }
    const bad = join(await mkdtemp(join(tmpdir(), 'wharf-defs-')), 'bad.json');
    await writeFile(bad, JSON.stringify({ permissions: [{ user: 'ghost', vhost: '/', configure: '', write: '', read: '' }] }));
    await assert.rejects(
      startBroker({ dataDir: await makeDataDir(), amqpPort: 0, httpPort: 0, kafkaPort: 0, bind: '127.0.0.1', logLevel: 'silent', definitions: bad }),
      /refused: .*no user 'ghost'/,
    );
  });

  it('wharf definitions import/export work on a stopped data dir and refuse a running one', TEST_OPTS, async () => {
    const dataDir = await makeDataDir();
    const imported = await run(process.execPath, [cliPath, 'definitions', 'import', fixturePath, '--data-dir', dataDir]);
    assert.match(imported.stdout, /imported 2 users, 1 vhosts, 3 permissions, 3 policies, 4 queues, 4 exchanges, 4 bindings/);
    const out = join(dataDir, '..', `${Date.now()}-export.json`);
    await run(process.execPath, [cliPath, 'definitions', 'export', out, '--data-dir', dataDir]);
    assertFixtureExported(JSON.parse(await readFile(out, 'utf8')) as Record<string, Json[]>);
    const broker = await startBroker({ dataDir, amqpPort: 0, httpPort: 0, kafkaPort: 0, bind: '127.0.0.1', logLevel: 'silent' });
    try {
      await login(broker.amqpPort, 'defs-alice', 'alice-secret-pw', 'defs-fixture');
      const refused = await run(process.execPath, [cliPath, 'definitions', 'export', '--data-dir', dataDir]).then(
        () => assert.fail('export of a running broker\'s data dir should fail'),
        (err: { code: number; stderr: string }) => err,
      );
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /lock|in use|running/i);
    } finally {
      await broker.close();
    }
    const usage = await run(process.execPath, [cliPath, 'definitions', 'frobnicate']).then(
      () => assert.fail('unknown action should fail'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(usage.code, 2);
  });
});
