// AMQP over TLS (AMQPS) through three clients, EXTERNAL logins from client
// certificates, the protocol versions and cipher suites offered (openssl
// s_client), and the listener's behaviour with plaintext clients and sockets
// that never finish a handshake. Runs against a RabbitMQ with a TLS listener
// too (test/helpers/tls-broker.ts), so texts and refusals are RabbitMQ's.

import { AMQPClient } from '@cloudamqp/amqp-client';
import { connect, credentials } from 'amqplib';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, it } from 'node:test';
import { TEST_OPTS, WAIT_MS, uniqueName, withTimeout } from '../helpers/async.js';
import { assertRejectsWith } from '../helpers/amqplib.js';
import { isReference } from '../helpers/broker.js';
import { CERT_USER, skipWithoutReferenceTls, useTlsBroker } from '../helpers/tls-broker.js';
import { EMPTY_TABLE, PROTOCOL_HEADER, RawAmqp, longstr, methodFrame, shortstr } from '../helpers/raw-amqp.js';
import { sClient } from '../helpers/tls.js';

const opts = { ...TEST_OPTS, skip: skipWithoutReferenceTls };
const wharfOnly = { ...TEST_OPTS, skip: skipWithoutReferenceTls || (isReference ? 'Wharf\'s handshake timeouts are set per test' : false) };

const python = ['/usr/bin/python3', 'python3'].find(
  (exe) => spawnSync(exe, ['-c', 'import pika'], { stdio: 'ignore' }).status === 0,
);

/** Resolves when the socket is closed by the other side; collects what it sent. */
function closedBy(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  return withTimeout(new Promise<Buffer>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks)))), WAIT_MS, 'the server to close the socket');
}

describe('AMQPS', { skip: skipWithoutReferenceTls }, () => {
  const tls = useTlsBroker();

  it('amqplib publishes with confirms and consumes over TLS', opts, async () => {
    const conn = await tls.connectTls();
    const ch = await conn.createConfirmChannel();
    const q = uniqueName('tls');
    await ch.assertQueue(q, { durable: true });
    ch.sendToQueue(q, Buffer.from('over tls'), { persistent: true });
    await ch.waitForConfirms();
    const got = await ch.get(q, { noAck: true });
    assert.ok(got);
    assert.equal(got.content.toString(), 'over tls');
    await ch.deleteQueue(q);
  });

  it('@cloudamqp/amqp-client works over TLS', opts, async () => {
    // Its TLS options are only key, cert, ca: the certificate names IP 127.0.0.1 too.
    const client = new AMQPClient(`amqps://guest:guest@127.0.0.1:${tls.amqpsPort}`, { ca: tls.fixture.ca });
    const conn = await client.connect();
    try {
      const ch = await conn.channel();
      const { name } = await ch.queueDeclare(uniqueName('tls-ac'));
      await ch.basicPublish('', name, 'amqp-client over tls');
      const msg = await ch.basicGet(name, { noAck: true });
      assert.equal(msg?.bodyToString(), 'amqp-client over tls');
      await ch.queueDelete(name);
    } finally {
      await conn.close();
    }
  });

  it('python3-pika works over TLS', { ...opts, skip: opts.skip || (python === undefined ? 'python3-pika is not installed' : false) }, async () => {
    const script = `
import json, ssl, sys, pika
ctx = ssl.create_default_context(cafile=sys.argv[2])
params = pika.ConnectionParameters(host='127.0.0.1', port=int(sys.argv[1]),
    credentials=pika.PlainCredentials('guest', 'guest'), ssl_options=pika.SSLOptions(ctx, 'localhost'))
conn = pika.BlockingConnection(params)
ch = conn.channel()
q = sys.argv[3]
ch.queue_declare(q)
ch.basic_publish('', q, b'pika over tls')
method, props, body = ch.basic_get(q, auto_ack=True)
ch.queue_delete(q)
conn.close()
print(json.dumps({'body': body.decode()}))
`;
    const child = spawn(python as string, ['-c', script, String(tls.amqpsPort), tls.fixture.caFile, uniqueName('tls-pika')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    const code = await withTimeout(new Promise<number | null>((r) => child.once('exit', r)), WAIT_MS * 2, 'pika');
    assert.equal(code, 0, err);
    assert.deepEqual(JSON.parse(out.trim()), { body: 'pika over tls' });
  });

  it('EXTERNAL logs in as the client certificate\'s CN', opts, async () => {
    const client = await tls.fixture.makeClient(CERT_USER);
    const conn = await tls.connectTls({ client, external: true });
    const ch = await conn.createChannel();
    const q = uniqueName('tls-ext');
    await ch.assertQueue(q, { exclusive: true });
    assert.equal((await ch.checkQueue(q)).queue, q);
  });

  it('EXTERNAL with a certificate naming an unknown user is refused (403)', opts, async () => {
    const client = await tls.fixture.makeClient('wharf-tls-nobody');
    await assertRejectsWith(
      tls.connectTls({ client, external: true }),
      403,
      'ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL. For details see the broker logfile.',
    );
  });

  it('EXTERNAL without a client certificate is refused (403)', opts, async () => {
    // Offered on every TLS connection, as RabbitMQ 3.10 does; the login then fails.
    await assertRejectsWith(
      tls.connectTls({ external: true }),
      403,
      'ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL. For details see the broker logfile.',
    );
  });

  it('EXTERNAL is not offered on the plaintext port; a client using it anyway is disconnected', opts, async () => {
    const plain = new URL(tls.broker.url);
    await assert.rejects(connect(`amqp://${plain.host}`, { credentials: credentials.external() }),
      /SASL mechanism EXTERNAL is not provided by the server/);
    const raw = await RawAmqp.connect(Number(plain.port));
    try {
      raw.write(PROTOCOL_HEADER);
      const start = await raw.expectMethod(10, 10);
      assert.doesNotMatch(start.payload.toString('latin1'), /EXTERNAL/);
      raw.write(methodFrame(0, 10, 11, Buffer.concat([EMPTY_TABLE, shortstr('EXTERNAL'), longstr(''), shortstr('en_US')])));
      // RabbitMQ: a protocol error before connection.tune closes the socket without a
      // connection.close (after a 3 s delay there; at once here).
      await assert.rejects(raw.nextFrame(), /socket closed/);
    } finally {
      raw.destroy();
    }
  });

  it('PLAIN still works on a connection with a client certificate', opts, async () => {
    const client = await tls.fixture.makeClient(CERT_USER);
    const conn = await tls.connectTls({ client });
    await (await conn.createChannel()).close();
  });

  it('a client certificate from another CA is refused at the TLS layer', opts, async () => {
    const client = await tls.fixture.makeStranger('wharf-tls-stranger');
    await assert.rejects(tls.connectTls({ client }));
    // ...and the listener goes on serving.
    await (await tls.connectTls()).close();
  });

  it('TLS 1.1 is refused, TLS 1.2 and 1.3 are accepted', opts, async () => {
    const dir = tls.fixture.dir;
    // SECLEVEL=0 lets this openssl try TLS 1.1 at all, so the refusal is the server's.
    const v11 = await sClient(tls.amqpsPort, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], dir);
    assert.equal(v11.connected, false, v11.output);
    const v12 = await sClient(tls.amqpsPort, ['-tls1_2'], dir);
    assert.equal(v12.connected, true, v12.output);
    assert.equal(v12.protocol, 'TLSv1.2');
    const v13 = await sClient(tls.amqpsPort, ['-tls1_3'], dir);
    assert.equal(v13.connected, true, v13.output);
    assert.equal(v13.protocol, 'TLSv1.3');
  });

  it('static-RSA and CBC suites are refused; ECDHE with AES-GCM is accepted', opts, async () => {
    const dir = tls.fixture.dir;
    for (const cipher of ['AES256-SHA256', 'AES128-GCM-SHA256', 'ECDHE-RSA-AES256-SHA384']) {
      const r = await sClient(tls.amqpsPort, ['-tls1_2', '-cipher', cipher], dir);
      assert.equal(r.connected, false, `${cipher}: ${r.output}`);
    }
    const ok = await sClient(tls.amqpsPort, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384'], dir);
    assert.equal(ok.connected, true, ok.output);
    assert.equal(ok.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
  });

  it('a plaintext AMQP client on the TLS port is refused, and TLS clients are unaffected', opts, async () => {
    const conn = await tls.connectTls();
    const ch = await conn.createChannel();
    const socket = netConnect(tls.amqpsPort, '127.0.0.1');
    const closed = closedBy(socket);
    socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    const reply = await closed;
    // Whatever came back (a TLS alert, or nothing), it is not an AMQP reply.
    assert.notEqual(reply.subarray(0, 4).toString('latin1'), 'AMQP');
    const q = uniqueName('tls-after-plain');
    await ch.assertQueue(q, { exclusive: true });
    assert.equal((await ch.checkQueue(q)).queue, q);
  });

});

describe('AMQPS handshake timeouts', { skip: wharfOnly.skip }, () => {
  // RabbitMQ's are 5 s (ssl_handshake_timeout) and 10 s (handshake_timeout); short here to keep the suite quick.
  const tls = useTlsBroker({ tlsHandshakeTimeoutMs: 1000, amqpHandshakeTimeoutMs: 1000 });

  it('sockets that never start or never finish a handshake are closed; others keep working', wharfOnly, async () => {
    // Many silent TCP sockets (no TLS ClientHello) and TLS sockets that never send the AMQP header.
    const silent = Array.from({ length: 40 }, () => netConnect(tls.amqpsPort, '127.0.0.1'));
    const tlsOnly = Array.from({ length: 10 }, () =>
      tlsConnect({ port: tls.amqpsPort, host: '127.0.0.1', ca: tls.fixture.ca, servername: 'localhost' }));
    const closes = [...silent, ...tlsOnly].map((s) => closedBy(s));
    const conn = await tls.connectTls();
    const ch = await conn.createConfirmChannel();
    const q = uniqueName('tls-slowloris');
    await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q, Buffer.from('still here'));
    await ch.waitForConfirms();
    await Promise.all(closes);
    assert.equal((await ch.checkQueue(q)).messageCount, 1);
  });
});
