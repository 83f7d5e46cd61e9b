// A third client, in another language: Python's pika (Debian package
// python3-pika), driven by small scripts this test spawns. Skipped only when
// python3 or pika is not installed (CI: apt-get install -y python3-pika).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { TEST_OPTS, WAIT_MS, uniqueName, withTimeout } from '../helpers/async.js';
import { bodies, collect, sendAll, useBroker, waitForReady } from '../helpers/amqplib.js';

// Debian's python3-pika installs for /usr/bin/python3, which may not be the
// python3 first on PATH (pyenv and the like).
const python = ['/usr/bin/python3', 'python3'].find(
  (exe) => spawnSync(exe, ['-c', 'import pika'], { stdio: 'ignore' }).status === 0,
);
const opts = { ...TEST_OPTS, skip: python === undefined ? 'python3-pika is not installed (apt-get install -y python3-pika)' : false };

/** Runs a Python script with the broker URL as argv[1] and parses the JSON it prints. */
async function runPython(script: string, args: string[]): Promise<Record<string, unknown>> {
  assert.ok(python, 'no python3 with pika');
  const child = spawn(python, ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('exit', resolve)),
    WAIT_MS * 2,
    'the pika script to finish',
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  assert.equal(code, 0, `pika script failed:\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

const PRELUDE = `
import json, sys, pika
params = pika.URLParameters(sys.argv[1])
params.socket_timeout = 10
params.blocked_connection_timeout = 10
conn = pika.BlockingConnection(params)
ch = conn.channel()
`;

describe('pika (Python)', () => {
  const ctx = useBroker();

  it('publishes with confirms, consumes with acks, gets, and sees returns and channel errors', opts, async () => {
    const missing = uniqueName('q-missing');
    const result = await runPython(`${PRELUDE}
ch.confirm_delivery()
q = ch.queue_declare(queue='', exclusive=True).method.queue
for i in range(10):
    ch.basic_publish('', q, ('m%d' % i).encode(),
        pika.BasicProperties(delivery_mode=2, content_type='text/plain', headers={'i': i, 'nested': {'k': 'v'}}),
        mandatory=True)
try:
    ch.basic_publish('amq.direct', 'nowhere', b'x', mandatory=True)
    unroutable = False
except pika.exceptions.UnroutableError:
    unroutable = True
declared = ch.queue_declare(queue=q, passive=True).method.message_count
got = []
for method, props, body in ch.consume(q, inactivity_timeout=10):
    if method is None:
        break
    got.append({'body': body.decode(), 'i': props.headers['i'], 'nested': props.headers['nested'],
                'mode': props.delivery_mode, 'ct': props.content_type, 'redelivered': method.redelivered})
    ch.basic_ack(method.delivery_tag)
    if len(got) == 10:
        break
ch.cancel()
empty = ch.basic_get(q)[0] is None
ch.basic_publish('', q, b'for-get')
method, props, body = ch.basic_get(q, auto_ack=False)
ch.basic_nack(method.delivery_tag, requeue=True)
method2, _, body2 = ch.basic_get(q, auto_ack=True)
ch2 = conn.channel()
try:
    ch2.queue_declare(queue=sys.argv[2], passive=True)
    closed = None
except pika.exceptions.ChannelClosedByBroker as e:
    closed = [e.reply_code, e.reply_text]
conn.close()
print(json.dumps({'declared': declared, 'got': got, 'unroutable': unroutable, 'empty': empty,
                  'get': [body.decode(), method.message_count], 'again': [body2.decode(), method2.redelivered],
                  'closed': closed}))
`, [ctx.broker.url, missing]);
    assert.equal(result.declared, 10);
    assert.deepEqual(result.got, Array.from({ length: 10 }, (_, i) => ({
      body: `m${i}`, i, nested: { k: 'v' }, mode: 2, ct: 'text/plain', redelivered: false,
    })));
    assert.equal(result.unroutable, true, 'mandatory unroutable publish raises UnroutableError');
    assert.equal(result.empty, true);
    assert.deepEqual(result.get, ['for-get', 0]);
    assert.deepEqual(result.again, ['for-get', true]);
    assert.deepEqual(result.closed, [404, `NOT_FOUND - no queue '${missing}' in vhost '/'`]);
  });

  it('exchanges messages with amqplib in both directions', opts, async () => {
    const ch = await ctx.clients.channel();
    const inbox = ctx.clients.deleteLater(uniqueName('q-py-in'));
    const outbox = ctx.clients.deleteLater(uniqueName('q-py-out'));
    await ch.assertQueue(inbox, { durable: false });
    await ch.assertQueue(outbox, { durable: false });
    sendAll(ch, inbox, ['a', 'b', 'c'], { headers: { from: 'node' }, correlationId: 'c-1' });
    await waitForReady(ch, inbox, 3);
    const result = await runPython(`${PRELUDE}
ch.confirm_delivery()
seen = []
while True:
    method, props, body = ch.basic_get(sys.argv[2], auto_ack=False)
    if method is None:
        break
    seen.append([body.decode(), props.headers.get('from'), props.correlation_id])
    ch.basic_publish('', sys.argv[3], b'py:' + body,
        pika.BasicProperties(correlation_id=props.correlation_id, headers={'from': 'python'}))
    ch.basic_ack(method.delivery_tag)
conn.close()
print(json.dumps({'seen': seen}))
`, [ctx.broker.url, inbox, outbox]);
    assert.deepEqual(result.seen, [['a', 'node', 'c-1'], ['b', 'node', 'c-1'], ['c', 'node', 'c-1']]);
    const replies = await collect(ch, outbox, 3, { noAck: true });
    assert.deepEqual(bodies(replies), ['py:a', 'py:b', 'py:c']);
    for (const r of replies) {
      assert.equal(r.properties.correlationId, 'c-1');
      assert.deepEqual(r.properties.headers, { from: 'python' });
    }
    assert.equal((await ch.checkQueue(inbox)).messageCount, 0);
  });
});
