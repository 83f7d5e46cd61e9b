// `wharf move` and `wharf dead-letters` through the real binary against a broker's
// management API: amqplib dead-letters messages, the CLI lists why each died and
// replays them with progress; bad command lines exit 2, refusals exit 1.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Channel, GetMessage } from 'amqplib';
import { TEST_OPTS, uniqueName, waitUntil } from '../../helpers/async.js';
import { isReference } from '../../helpers/broker.js';
import { useManagement } from '../../helpers/management.js';

const mainJs = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function wharf(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mainJs, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function getAll(ch: Channel, queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m !== false; m = await ch.get(queue, { noAck: true })) out.push(m);
  return out;
}

describe('wharf move and wharf dead-letters', { skip: isReference ? 'the CLI drives Wharf-only routes' : false }, () => {
  const ctx = useManagement();

  async function setUp(): Promise<{ ch: Channel; dlq: string; src: string; url: string }> {
    const ch = await ctx.clients.channel();
    const dlq = ctx.clients.deleteLater(uniqueName('cli-dlq'));
    const src = ctx.clients.deleteLater(uniqueName('cli-src'));
    await ch.assertQueue(dlq, { durable: true });
    await ch.assertQueue(src, { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq } });
    for (const body of ['first', 'second', 'third']) {
      ch.sendToQueue(src, Buffer.from(body), { persistent: true });
      let m: GetMessage | false = false;
      await waitUntil(async () => (m = await ch.get(src)) !== false, 'a message to reject');
      ch.nack(m as unknown as GetMessage, false, false);
    }
    await waitUntil(async () => (await ch.checkQueue(dlq)).messageCount === 3, 'three dead letters');
    return { ch, dlq, src, url: `http://127.0.0.1:${ctx.broker.handle.httpPort}` };
  }

  it('lists dead letters with reason, queue, count and time, without consuming them', TEST_OPTS, async () => {
    const { ch, dlq, src, url } = await setUp();
    const r = await wharf(['dead-letters', dlq, '--url', url]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^POS\s+REASON\s+QUEUE\s+COUNT\s+TIME\s+PAYLOAD$/);
    assert.match(lines[1], new RegExp(`^0\\s+rejected\\s+${src}\\s+1\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+first$`));
    assert.equal(lines.length, 5);
    assert.equal(lines[4], '3 ready, showing 3 from position 0');
    const json = await wharf(['dead-letters', dlq, '--from', '2', '--json'], { WHARF_URL: url });
    assert.equal(json.code, 0, json.stderr);
    const page = JSON.parse(json.stdout) as { items: { payload: string }[] };
    assert.deepEqual(page.items.map((i) => i.payload), ['third']);
    assert.equal((await ch.checkQueue(dlq)).messageCount, 3);
  });

  it('moves N to a queue, then the rest back to their origin stripping x-death, printing progress', TEST_OPTS, async () => {
    const { ch, dlq, src, url } = await setUp();
    const other = ctx.clients.deleteLater(uniqueName('cli-other'));
    await ch.assertQueue(other, { durable: true });
    const one = await wharf(['move', dlq, '--to-queue', other, '--count', '1', '--url', url]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^done: moved 1 of 1\n$/m);
    assert.deepEqual((await getAll(ch, other)).map((m) => m.content.toString()), ['first']);
    const back = await wharf(['move', dlq, '--to-origin', '--strip-x-death', '--batch-size', '1', '--url', url]);
    assert.equal(back.code, 0, back.stderr);
    const lines = back.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^\d\/2 moved$/, 'a progress line per update when not on a terminal');
    assert.equal(lines[lines.length - 1], 'done: moved 2 of 2');
    const returned = await getAll(ch, src);
    assert.deepEqual(returned.map((m) => m.content.toString()), ['second', 'third']);
    assert.equal(returned[0].properties.headers?.['x-death'], undefined);
  });

  it('moves selected positions through an exchange and prints JSON', TEST_OPTS, async () => {
    const { ch, dlq, url } = await setUp();
    const target = ctx.clients.deleteLater(uniqueName('cli-target'));
    const ex = ctx.clients.deleteExchangeLater(uniqueName('cli-x'));
    await ch.assertQueue(target, { durable: true });
    await ch.assertExchange(ex, 'direct', { durable: true });
    await ch.bindQueue(target, ex, 'k');
    const r = await wharf(['move', dlq, '--to-exchange', ex, '--routing-key', 'k', '--positions', '0,2', '--json', '--url', url]);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout.trimEnd().split('\n').pop() ?? '') as { state: string; moved: number };
    assert.deepEqual([job.state, job.moved], ['done', 2]);
    const got = await getAll(ch, target);
    assert.deepEqual(got.map((m) => m.content.toString()), ['first', 'third']);
    assert.equal((got[0].properties.headers?.['x-death'] as unknown as { reason: string }[])[0].reason, 'rejected');
  });

  it('exits 2 on a bad command line and 1 when the server refuses', TEST_OPTS, async () => {
    const url = `http://127.0.0.1:${ctx.broker.handle.httpPort}`;
    const none = await wharf(['move', 'q', '--url', url]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exactly one of --to-queue, --to-exchange, --to-origin/);
    const two = await wharf(['move', 'q', '--to-origin', '--to-queue', 'x', '--url', url]);
    assert.equal(two.code, 2);
    const badCount = await wharf(['move', 'q', '--to-origin', '--count', 'many', '--url', url]);
    assert.equal(badCount.code, 2);
    assert.match(badCount.stderr, /--count must be a whole number/);
    const missing = await wharf(['move', uniqueName('cli-missing'), '--to-origin', '--url', url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404 Object Not Found: Not Found/);
    const login = await wharf(['dead-letters', 'q', '--url', url, '--user', 'guest', '--password', 'wrong']);
    assert.equal(login.code, 1);
    assert.match(login.stderr, /401 not_authorized: Login failed/);
    const help = await wharf(['move', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: wharf move SOURCE/);
  });
});

describe('wharf move on a terminal', { skip: isReference ? 'the CLI drives Wharf-only routes' : false }, () => {
  const ctx = useManagement();

  it('redraws one progress bar in place', TEST_OPTS, async () => {
    const { runAdmin } = await import('../../../src/cli/admin/run.js');
    const ch = await ctx.clients.confirmChannel();
    const src = ctx.clients.deleteLater(uniqueName('cli-tty'));
    const dst = ctx.clients.deleteLater(uniqueName('cli-tty-dst'));
    await ch.assertQueue(src, { durable: true });
    await ch.assertQueue(dst, { durable: true });
    for (let i = 0; i < 2000; i++) ch.sendToQueue(src, Buffer.from(`m-${i}`), { persistent: true });
    await ch.waitForConfirms();
    let out = '';
    const args = [src, '--to-queue', dst, '--batch-size', '10', '--url', `http://127.0.0.1:${ctx.broker.handle.httpPort}`];
    const code = await runAdmin('move', args, {
      env: {},
      io: {
        env: {},
        stdout: (t) => (out += t),
        stderr: (t) => (out += t),
        readStdin: () => Promise.resolve(Buffer.alloc(0)),
        isTTY: true,
        pollMs: 5,
      },
    });
    assert.equal(code, 0, out);
    const [bar, summary] = out.split('\n');
    assert.match(bar, /^\r\[[#-]{30}\]/);
    assert.match(bar, /\r\[#{30}\] 100% 2000\/2000 moved$/, 'the last redraw is full');
    assert.equal(summary, 'done: moved 2000 of 2000');
    assert.equal((await ch.checkQueue(dst)).messageCount, 2000);
  });
});
