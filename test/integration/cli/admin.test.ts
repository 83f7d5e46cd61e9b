// The operator verbs of `wharf` (src/cli/admin/) through the real binary against
// a broker's management API: Wharf on port 0, or in reference mode RabbitMQ's
// management plugin (WHARF_TEST_REFERENCE_MANAGEMENT_URL), so every expectation
// here also holds for RabbitMQ.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { uniqueName, waitUntil, WAIT_MS } from '../../helpers/async.js';
import { runWharf, startWharf, type CliResult } from '../../helpers/cli.js';
import { skipWithoutReferenceManagement, useManagement } from '../../helpers/management.js';

const OPTS = { timeout: 90_000 } as const;
/** RabbitMQ's statistics (consumers, connections) can lag by its collection interval (5 s). */
const STATS_WAIT_MS = WAIT_MS * 2;

describe('wharf CLI: operator verbs', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();

  /** wharf VERB ... against the broker under test, credentials from the environment. */
  function wharf(args: readonly string[], input?: string | Buffer): Promise<CliResult> {
    return runWharf(args, { env: { WHARF_URL: ctx.api.baseUrl, WHARF_USER: 'guest', WHARF_PASSWORD: 'guest' }, input });
  }

  async function ok(args: readonly string[], input?: string | Buffer): Promise<string> {
    const r = await wharf(args, input);
    assert.equal(r.code, 0, `wharf ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  async function json<T = Record<string, unknown>[]>(args: readonly string[]): Promise<T> {
    return JSON.parse(await ok([...args, '--json'])) as T;
  }

  it('status: the overview as text, and as JSON', OPTS, async () => {
    const text = await ok(['status']);
    assert.match(text, /^node: +\S+@\S+$/m);
    assert.match(text, /^messages: +\d+ \(\d+ ready, \d+ unacked\)$/m);
    assert.match(text, /^alarms: +none$/m);
    const status = await json<{ overview: { rabbitmq_version: string; object_totals: { queues: number } }; nodes: unknown[] }>(['status']);
    assert.equal(typeof status.overview.rabbitmq_version, 'string');
    assert.equal(typeof status.overview.object_totals.queues, 'number');
    assert.equal(status.nodes.length, 1);
  });

  it('declare, publish (argument and stdin), get keeps, consume removes, purge, delete', OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('cli-q'));
    const x = ctx.clients.deleteExchangeLater(uniqueName('cli-x'));
    assert.equal(await ok(['declare', 'queue', q, '--argument', 'x-max-length=100']), `declared queue '${q}'\n`);
    assert.equal(await ok(['declare', 'queue', q, '--argument', 'x-max-length=100']), `exists: queue '${q}'\n`);
    assert.equal(await ok(['declare', 'exchange', x, '--type', 'fanout']), `declared exchange '${x}'\n`);
    const ch = await ctx.clients.channel();
    await ch.bindQueue(q, x, '');

    assert.equal(await ok(['publish', '--routing-key', q, 'one', '--header', 'n=1', '--persistent', '--property', 'message_id=m-1']), 'published, routed\n');
    assert.equal(await ok(['publish', '--exchange', x], 'two from stdin'), 'published, routed\n');
    assert.equal(await ok(['publish', '--routing-key', 'nobody-binds-this']), 'published, but NOT routed to any queue\n');
    assert.equal((await ch.checkQueue(q)).messageCount, 2);

    const got = await json<{ payload: string; properties: { headers?: Record<string, unknown>; delivery_mode?: number; message_id?: string } }[]>(['get', q, '--count', '5']);
    assert.deepEqual(got.map((m) => m.payload), ['one', 'two from stdin']);
    assert.equal(got[0].properties.headers?.n, 1);
    assert.equal(got[0].properties.delivery_mode, 2);
    assert.equal(got[0].properties.message_id, 'm-1');
    assert.equal((await ch.checkQueue(q)).messageCount, 2, 'get requeues by default');
    const table = await ok(['get', q]);
    assert.match(table, /^routing_key +exchange +redelivered +remaining +bytes +encoding +payload$/m);
    assert.match(table, /\bone$/m);

    assert.equal(await ok(['consume', q, '--count', '1']), 'one\n');
    const lines = (await ok(['consume', q, '--count', '1', '--json'])).trim().split('\n');
    assert.equal((JSON.parse(lines[0]) as { payload: string }).payload, 'two from stdin');
    assert.equal((await ch.checkQueue(q)).messageCount, 0);

    await ok(['publish', '--routing-key', q, 'three']);
    assert.equal(await ok(['purge', q]), `purged queue '${q}'\n`);
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
    assert.equal(await ok(['delete', 'queue', q, '--if-empty']), `deleted queue '${q}'\n`);
    assert.equal(await ok(['delete', 'exchange', x]), `deleted exchange '${x}'\n`);
    assert.ok(!(await json(['queues'])).some((e) => e.name === q));
  });

  it('consume without --count follows the queue until interrupted', OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('cli-follow'));
    const ch = await ctx.clients.channel();
    await ch.assertQueue(q);
    const env = { WHARF_URL: ctx.api.baseUrl, WHARF_USER: 'guest', WHARF_PASSWORD: 'guest' };
    const follower = startWharf(['consume', q, '--interval', '100'], { env });
    ch.sendToQueue(q, Buffer.from('first'));
    await waitUntil(() => follower.stdout() === 'first\n', 'the first message printed');
    // The queue was empty meanwhile; the follower keeps asking and sees the next one.
    ch.sendToQueue(q, Buffer.from('second'));
    await waitUntil(() => follower.stdout() === 'first\nsecond\n', 'the second message printed');
    follower.child.kill('SIGINT');
    const r = await follower.exited;
    assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: 'first\nsecond\n', stderr: '' });
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
  });

  it('lists as aligned tables and as JSON: queues, exchanges, bindings, connections, channels, consumers', OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('cli-list'));
    const ch = await ctx.clients.channel();
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, 'amq.topic', 'cli.#');
    await ch.prefetch(7);
    const { consumerTag } = await ch.consume(q, () => {});

    const queues = await ok(['queues', '--vhost', '/']);
    assert.match(queues, /^name +type +durable +messages +ready +unacked +consumers +policy$/m);
    // RabbitMQ fills in the depth columns only once its statistics have seen the queue.
    assert.match(queues, new RegExp(`^${q} +classic +true\\b`, 'm'));
    const mine = (await json(['queues'])).find((e) => e.name === q);
    assert.equal(mine?.vhost, '/');
    assert.equal(mine?.durable, true);

    assert.match(await ok(['exchanges']), /^\/ +amq\.topic +topic +true +false +false$/m);
    assert.ok((await json(['exchanges', '--vhost', '/'])).some((e) => e.name === 'amq.fanout' && e.type === 'fanout'));
    assert.match(await ok(['bindings']), new RegExp(`^/ +amq\\.topic +${q} +queue +cli\\.#$`, 'm'));
    assert.ok((await json(['bindings', '--vhost', '/'])).some((b) => b.source === 'amq.topic' && b.destination === q && b.routing_key === 'cli.#'));

    // Connections, channels and consumers come from RabbitMQ's statistics: wait for them there.
    let consumers: Record<string, unknown>[] = [];
    await waitUntil(async () => {
      consumers = await json(['consumers']);
      return consumers.some((c) => c.consumer_tag === consumerTag);
    }, 'the consumer in wharf consumers', STATS_WAIT_MS);
    const c = consumers.find((e) => e.consumer_tag === consumerTag) as { queue: { name: string }; prefetch_count: number };
    assert.equal(c.queue.name, q);
    assert.equal(c.prefetch_count, 7);
    assert.match(await ok(['consumers', '--vhost', '/']), new RegExp(`^${q} +${consumerTag} +true +7 `, 'm'));
    await waitUntil(async () => (await json(['channels'])).some((e) => e.prefetch_count === 7), 'the channel in wharf channels', STATS_WAIT_MS);
    const conns = await json(['connections']);
    assert.ok(conns.some((e) => e.user === 'guest' && e.protocol !== undefined));
    assert.match(await ok(['connections']), /^vhost +name +user +protocol +channels +state +client$/m);
    assert.match(await ok(['channels']), /^vhost +name +user +prefetch +unacked +consumers +confirm$/m);
  });

  it('definitions export to a file and import back', OPTS, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-cli-'));
    try {
      const q = ctx.clients.deleteLater(uniqueName('cli-def'));
      await ok(['declare', 'queue', q, '--argument', 'x-message-ttl=60000']);
      const file = join(dir, 'defs.json');
      assert.equal(await ok(['definitions', 'export', file]), '');
      const defs = JSON.parse(await readFile(file, 'utf8')) as { queues: { name: string; arguments: Record<string, unknown> }[] };
      assert.deepEqual(defs.queues.find((d) => d.name === q)?.arguments, { 'x-message-ttl': 60000 });
      const toStdout = JSON.parse(await ok(['definitions', 'export', '--vhost', '/'])) as { queues: { name: string }[] };
      assert.ok(toStdout.queues.some((d) => d.name === q));
      await ok(['delete', 'queue', q]);
      assert.equal(await ok(['definitions', 'import', file]), `imported definitions from '${file}'\n`);
      const ch = await ctx.clients.channel();
      await ch.checkQueue(q);
      const only = { queues: [{ name: q, durable: true, auto_delete: false, arguments: { 'x-message-ttl': 60000 } }] };
      assert.equal(await ok(['definitions', 'import', '-', '--vhost', '/'], JSON.stringify(only)), 'imported definitions from standard input\n');

      await writeFile(join(dir, 'bad.json'), '{not json');
      const bad = await wharf(['definitions', 'import', join(dir, 'bad.json')]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^wharf definitions: '.*bad\.json' is not valid JSON/);
      const missing = await wharf(['definitions', 'import', join(dir, 'absent.json')]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot read '.*absent\.json': ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('users and vhosts lists', OPTS, async () => {
    assert.ok((await json(['users'])).some((u) => u.name === 'guest'));
    assert.match(await ok(['users', 'list']), /^guest +\S*administrator/m);
    assert.ok((await json(['vhosts'])).some((v) => v.name === '/'));
    assert.match(await ok(['vhosts']), /^name +messages +description$/m);
  });

  it('failures: HTTP status and the server\'s reason on stderr, exit 1', OPTS, async () => {
    const unknown = await wharf(['delete', 'queue', uniqueName('cli-absent')]);
    assert.deepEqual([unknown.code, unknown.stdout], [1, '']);
    assert.match(unknown.stderr, /^wharf delete: DELETE \/api\/queues\/%2F\/cli-absent\S*: HTTP 404 Object Not Found: Not Found\n$/);
    const get = await wharf(['get', uniqueName('cli-absent')]);
    assert.equal(get.code, 1);
    assert.match(get.stderr, /HTTP 404/);

    const denied = await runWharf(['queues'], { env: { WHARF_URL: ctx.api.baseUrl, WHARF_USER: 'guest', WHARF_PASSWORD: 'wrong' } });
    assert.equal(denied.code, 1);
    assert.equal(denied.stderr, 'wharf queues: GET /api/queues: HTTP 401 not_authorized: Login failed\n');
    const flags = await runWharf(['status', '--url', ctx.api.baseUrl, '--user', 'nobody', '--password', 'x']);
    assert.equal(flags.code, 1);
    assert.match(flags.stderr, /HTTP 401/);

    const inequivalent = ctx.clients.deleteLater(uniqueName('cli-ineq'));
    await ok(['declare', 'queue', inequivalent]);
    const clash = await wharf(['declare', 'queue', inequivalent, '--durable', 'false']);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /HTTP 400 bad_request: .*inequivalent arg 'durable'/);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await runWharf(['status', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.stderr, `wharf status: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it('bad usage: one line on stderr, exit 2, nothing sent', OPTS, async () => {
    for (const [args, message] of [
      [['get'], /^wharf: get: expected QUEUE, got none; try 'wharf help get'\n$/],
      [['queues', '--nope'], /^wharf: queues: Unknown option '--nope'/],
      [['declare', 'topic', 'x'], /^wharf: declare: expected 'queue' or 'exchange', got 'topic'\n$/],
      [['declare', 'exchange', 'x'], /^wharf: declare: an exchange needs --type/],
      [['get', 'q', '--count', 'many'], /^wharf: get: --count must be a whole number, 1 or more \(got 'many'\)\n$/],
      [['get', 'q', '--ackmode', 'keep'], /^wharf: get: --ackmode must be one of ack_requeue_true, /],
      [['publish', '--header', 'novalue', 'x'], /^wharf: publish: --header takes KEY=VALUE \(got 'novalue'\)\n$/],
      [['definitions', 'backup'], /^wharf: definitions: expected 'export \[FILE\]' or 'import FILE'/],
      [['users', 'add', 'alice'], /^wharf: users add: expected NAME PASSWORD; try 'wharf help users'\n$/],
      [['policies', 'set', 'p'], /^wharf: policies set: --pattern is required/],
      [['vhosts', 'rename', 'a'], /^wharf: vhosts: unknown action 'rename' \(expected list, add, delete\)/],
    ] as const) {
      const r = await wharf(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, message);
    }
  });

  it('help for every verb, as wharf help VERB and VERB --help', OPTS, async () => {
    const top = await ok(['--help']);
    const verbs = ['status', 'queues', 'exchanges', 'bindings', 'connections', 'channels', 'consumers', 'publish', 'get',
      'consume', 'purge', 'declare', 'delete', 'definitions', 'policies', 'users', 'vhosts'];
    for (const verb of verbs) {
      assert.match(top, new RegExp(`^  ${verb} +\\S`, 'm'), verb);
      const help = await ok(['help', verb]);
      assert.match(help, new RegExp(`^Usage: wharf ${verb}\\b`), verb);
      assert.match(help, /^Examples?:$/m, verb);
      assert.match(help, /--url URL/, verb);
    }
    assert.equal(await ok(['consume', '--help']), await ok(['help', 'consume']));
  });
});
