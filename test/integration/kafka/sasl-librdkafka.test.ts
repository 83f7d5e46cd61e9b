// Kafka SASL and TLS through librdkafka: Debian's kcat and python3-confluent-kafka, over
// SASL_PLAINTEXT and over SASL_SSL with a throwaway CA made by openssl in the test's temp dir.
// The right password produces and consumes; a wrong one gets Kafka's SASL_AUTHENTICATION_FAILED
// message; a mechanism the broker does not enable is refused.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kcat, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';
import { runPython } from '../../helpers/python-kafka.js';

const USER = 'kafka-rdk-user';
const PASSWORD = 'kafka-rdk-pass';

/**
 * A CA and a server certificate for 127.0.0.1 and localhost, signed by it. EC keys are quick to
 * make; an RSA server key lets a test offer static-RSA key exchange (which EC keys cannot do).
 */
async function makeCertificates(dir: string, serverKey: 'ec' | 'rsa' = 'ec'): Promise<{ ca: string; cert: string; key: string }> {
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=wharf-test-ca']);
  run(['req', ...(serverKey === 'ec' ? ec : ['-newkey', 'rsa:2048', '-nodes']), '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  await writeFile(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.cnf']);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/** Produces `n` values, then reads them back as a consumer-group member; or reports the error the client saw. */
const ROUND_TRIP = `
import json, sys, time
from confluent_kafka import Consumer, Producer
bootstrap, topic, n, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
errors = []
common = dict(extra, **{'bootstrap.servers': bootstrap, 'error_cb': lambda e: errors.append(e.str())})
p = Producer(dict(common, **{'acks': 'all', 'message.timeout.ms': 8000}))
acked = []
def done(err, msg):
    if err is None:
        acked.append(msg.offset())
    else:
        errors.append(err.str())
for i in range(n):
    p.produce(topic, value=('v%d' % i).encode(), on_delivery=done)
p.flush(15)
if len(acked) < n:
    print(json.dumps({'acked': len(acked), 'errors': errors}))
    sys.exit(0)
c = Consumer(dict(common, **{'group.id': 'g-' + topic, 'auto.offset.reset': 'earliest', 'session.timeout.ms': 10000}))
c.subscribe([topic])
seen = []
deadline = time.time() + 30
while len(seen) < n and time.time() < deadline:
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    seen.append(m.value().decode())
c.close()
print(json.dumps({'acked': len(acked), 'seen': seen, 'errors': errors}))
`;

describe('kafka: SASL and TLS with librdkafka (kcat, confluent-kafka)', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let dir: string;
  let ca: string;
  let plainBootstrap: string;
  let tlsBootstrap: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-kafka-tls-'));
    const files = await makeCertificates(dir);
    ca = files.ca;
    broker = await startTestBroker({
      users: [{ name: USER, password: PASSWORD }],
      kafkaSaslMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
      kafkaTlsPort: 0,
      tls: { certFile: files.cert, keyFile: files.key },
      kafkaGroupInitialRebalanceDelayMs: 0,
    });
    plainBootstrap = `127.0.0.1:${broker.handle.kafkaPort}`;
    tlsBootstrap = `127.0.0.1:${broker.handle.kafkaTlsPort ?? 0}`;
  });
  after(async () => {
    await broker?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const saslArgs = (protocol: string, mechanism: string, password = PASSWORD): string[] => [
    '-X', `security.protocol=${protocol}`, '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${USER}`, '-X', `sasl.password=${password}`,
    ...(protocol === 'SASL_SSL' ? ['-X', `ssl.ca.location=${ca}`] : []),
  ];

  for (const [protocol, mechanism] of [['SASL_PLAINTEXT', 'SCRAM-SHA-512'], ['SASL_SSL', 'SCRAM-SHA-256'], ['SASL_SSL', 'PLAIN']] as const) {
    test(`kcat over ${protocol} with ${mechanism}: produce, then consume`, async () => {
      const bootstrap = protocol === 'SASL_SSL' ? tlsBootstrap : plainBootstrap;
      const topic = topicName('rdk-kcat');
      const p = await kcat(['-b', bootstrap, ...saslArgs(protocol, mechanism), '-t', topic, '-P', '-X', 'acks=all'], 'one\ntwo\nthree\n');
      assert.equal(p.code, 0, p.stderr);
      const c = await kcat(['-b', bootstrap, ...saslArgs(protocol, mechanism), '-t', topic, '-C', '-p', '0', '-o', 'beginning', '-e', '-q']);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(c.stdout.trim().split('\n'), ['one', 'two', 'three']);
    });
  }

  test("kcat with a wrong SCRAM-SHA-512 password: Kafka's SASL_AUTHENTICATION_FAILED message, no metadata", async () => {
    const r = await kcat(['-b', plainBootstrap, ...saslArgs('SASL_PLAINTEXT', 'SCRAM-SHA-512', 'wrong'), '-L', '-m', '3']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/);
  });

  test('kcat without SASL on a SASL listener gets no metadata (the connection is closed)', async () => {
    const r = await kcat(['-b', plainBootstrap, '-L', '-m', '3']);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /topics/);
  });

  for (const [protocol, mechanism] of [['SASL_PLAINTEXT', 'PLAIN'], ['SASL_SSL', 'SCRAM-SHA-512']] as const) {
    test(`confluent-kafka over ${protocol} with ${mechanism}: idempotent producer and group consumer`, async () => {
      const topic = topicName('rdk-py');
      const extra: Record<string, string> = {
        'security.protocol': protocol,
        'sasl.mechanisms': mechanism,
        'sasl.username': USER,
        'sasl.password': PASSWORD,
        'enable.idempotence': 'true',
        ...(protocol === 'SASL_SSL' ? { 'ssl.ca.location': ca } : {}),
      };
      const out = await runPython(ROUND_TRIP, [protocol === 'SASL_SSL' ? tlsBootstrap : plainBootstrap, topic, '5', JSON.stringify(extra)]);
      assert.equal(out.acked, 5, JSON.stringify(out.errors));
      assert.deepEqual(out.seen, ['v0', 'v1', 'v2', 'v3', 'v4']);
    });
  }

  test("confluent-kafka with a wrong PLAIN password: Kafka's message reaches the client, nothing is produced", async () => {
    const extra = { 'security.protocol': 'SASL_SSL', 'sasl.mechanisms': 'PLAIN', 'sasl.username': USER, 'sasl.password': 'wrong', 'ssl.ca.location': ca };
    const out = await runPython(ROUND_TRIP, [tlsBootstrap, topicName('rdk-bad'), '1', JSON.stringify(extra)]);
    assert.equal(out.acked, 0);
    assert.match(String(out.errors), /Authentication failed: Invalid username or password/);
  });

  test('confluent-kafka asking for a mechanism the broker does not enable is refused', async () => {
    const extra = { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'OAUTHBEARER', 'enable.sasl.oauthbearer.unsecure.jwt': 'true', 'sasl.oauthbearer.config': 'principal=someone' };
    const out = await runPython(ROUND_TRIP, [plainBootstrap, topicName('rdk-mech'), '1', JSON.stringify(extra)]);
    assert.equal(out.acked, 0);
    assert.match(String(out.errors), /Unsupported SASL mechanism: broker's supported mechanisms: PLAIN,SCRAM-SHA-256,SCRAM-SHA-512/);
  });

  test('a plaintext client on the TLS port fails without harming the listener', async () => {
    const r = await kcat(['-b', tlsBootstrap, ...saslArgs('SASL_PLAINTEXT', 'PLAIN'), '-L', '-m', '3']);
    assert.notEqual(r.code, 0);
    const ok = await kcat(['-b', tlsBootstrap, ...saslArgs('SASL_SSL', 'PLAIN'), '-L', '-m', '5']);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('kafka: TLS without SASL (SSL) with kcat', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let dir: string;
  let ca: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-kafka-ssl-'));
    const files = await makeCertificates(dir, 'rsa');
    ca = files.ca;
    broker = await startTestBroker({ kafkaTlsPort: 0, tls: { certFile: files.cert, keyFile: files.key } });
  });
  after(async () => {
    await broker?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('produce and consume over SSL; the CA must be trusted', async () => {
    const bootstrap = `127.0.0.1:${broker.handle.kafkaTlsPort ?? 0}`;
    const tls = ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${ca}`];
    const topic = topicName('rdk-ssl');
    const p = await kcat(['-b', bootstrap, ...tls, '-t', topic, '-P'], 'secret\n');
    assert.equal(p.code, 0, p.stderr);
    const c = await kcat(['-b', bootstrap, ...tls, '-t', topic, '-C', '-p', '0', '-o', 'beginning', '-e', '-q']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.trim(), 'secret');
    // Without the CA, librdkafka refuses the broker's certificate.
    const untrusted = await kcat(['-b', bootstrap, '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${join(dir, 'server.pem')}`, '-L', '-m', '3']);
    assert.notEqual(untrusted.code, 0);
  });

  test('TLS 1.2 and 1.3 with forward-secret suites only: no static RSA, no TLS 1.1', async () => {
    const port = String(broker.handle.kafkaTlsPort ?? 0);
    // openssl s_client exits 0 once a handshake completes (stdin is empty), non-zero when it
    // fails. Run asynchronously: the broker answering it lives in this process.
    const handshake = (args: string[]): Promise<boolean> =>
      new Promise((resolve) => {
        const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-brief', ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve(code === 0);
        });
      });
    assert.equal(await handshake(['-tls1_3']), true);
    assert.equal(await handshake(['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']), true);
    assert.equal(await handshake(['-tls1_2', '-cipher', 'AES128-GCM-SHA256']), false);
    assert.equal(await handshake(['-tls1_2', '-cipher', 'AES256-SHA256']), false);
    assert.equal(await handshake(['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']), false);
  });
});
