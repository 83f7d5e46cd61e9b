// Kafka SASL through kafkajs and raw requests: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 logins
// that produce and consume, refusals with Kafka's error codes and messages, Kafka's SASL state
// machine (what may come before authentication, and what closes the connection), and logins
// of the form vhost:user that put a connection in that vhost.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { SASLOptions } from 'kafkajs';
import { decodeResponse, ErrorCode } from '../../../src/protocol/kafka/index.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { kafkaClient, skipKafkaUnderReference, topicName } from '../../helpers/kafka.js';
import { ManagementApi } from '../../helpers/management.js';
import { RawKafka, rawRequest, sized } from '../../helpers/raw-kafka.js';

const USER = 'kafka-sasl-user';
const PASSWORD = 'kafka-sasl-pass';
const TEAM_VHOST = 'kafka-sasl-team';
const ALL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];
const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

function sasl(mechanism: (typeof MECHANISMS)[number], username: string, password: string): SASLOptions {
  return { mechanism, username, password } as SASLOptions;
}

/** The message of what `p` rejects with (kafkajs wraps SASL failures with its own prefix). */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected a rejection, but it succeeded');
}

describe('kafka: SASL authentication', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  let bootstrap: string;
  let port: number;

  before(async () => {
    const opts = {
      users: [{ name: USER, password: PASSWORD }],
      kafkaSaslMechanisms: ALL_MECHANISMS,
      kafkaGroupInitialRebalanceDelayMs: 0,
    };
    broker = await startTestBroker(opts);
    // A second vhost, through the management API.
    const created = await new ManagementApi(`http://127.0.0.1:${broker.handle.httpPort}`).put(`/api/vhosts/${TEAM_VHOST}`);
    assert.equal(created.status, 201, created.text);
    bootstrap = broker.handle.kafkaBootstrap;
    port = broker.handle.kafkaPort;
  });
  afterEach(() => RawKafka.destroyAll());
  after(async () => {
    await broker?.close();
  });

  for (const mechanism of MECHANISMS) {
    test(`${mechanism}: the right password produces and consumes`, async () => {
      const kafka = kafkaClient(bootstrap, { sasl: sasl(mechanism, USER, PASSWORD) });
      const topic = topicName(`sasl-${mechanism}`);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: `hello over ${mechanism}` }] });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: topicName('g'), sessionTimeout: 10_000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = await new Promise<string>((resolve, reject) => {
        consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) }).catch(reject);
      });
      await consumer.disconnect();
      assert.equal(got, `hello over ${mechanism}`);
    });
  }

  test("plain: a wrong password is refused with Kafka's SASL_AUTHENTICATION_FAILED message", async () => {
    const admin = kafkaClient(bootstrap, { sasl: sasl('plain', USER, 'wrong'), retry: { retries: 0 } }).admin();
    const message = await rejection(admin.connect());
    assert.match(message, /Authentication failed: Invalid username or password/);
  });

  for (const mechanism of ['scram-sha-256', 'scram-sha-512'] as const) {
    test(`${mechanism}: a wrong password and an unknown user get Kafka's generic SCRAM message`, async () => {
      for (const [user, password] of [[USER, 'wrong'], ['nobody-here', PASSWORD]] as const) {
        const admin = kafkaClient(bootstrap, { sasl: sasl(mechanism, user, password), retry: { retries: 0 } }).admin();
        const message = await rejection(admin.connect());
        assert.match(message, new RegExp(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism.toUpperCase()}`));
      }
    });
  }

  test('vhost:user logins work in that vhost; a plain user name means /', async () => {
    const topic = topicName('sasl-vhost');
    const team = kafkaClient(bootstrap, { sasl: sasl('scram-sha-256', `${TEAM_VHOST}:${USER}`, PASSWORD) });
    const producer = team.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'in the team vhost' }] });
    await producer.disconnect();
    const topicsIn = async (username: string): Promise<string[]> => {
      const admin = kafkaClient(bootstrap, { sasl: sasl('plain', username, PASSWORD) }).admin();
      await admin.connect();
      try {
        return await admin.listTopics();
      } finally {
        await admin.disconnect();
      }
    };
    assert.ok((await topicsIn(`${TEAM_VHOST}:${USER}`)).includes(topic));
    assert.ok(!(await topicsIn(USER)).includes(topic));
    assert.ok(!(await topicsIn(`/:${USER}`)).includes(topic));
  });

  test('a login naming a vhost that does not exist is refused', async () => {
    const admin = kafkaClient(bootstrap, { sasl: sasl('plain', `no-such-vhost:${USER}`, PASSWORD), retry: { retries: 0 } }).admin();
    assert.match(await rejection(admin.connect()), /Authentication failed: Invalid username or password/);
  });

  test('a mechanism the listener does not enable: UNSUPPORTED_SASL_MECHANISM with the enabled list, then the close', async () => {
    const raw = await RawKafka.open(port);
    const res = await raw.call(17, 1, { mechanism: 'GSSAPI' });
    assert.equal(res.errorCode, ErrorCode.UNSUPPORTED_SASL_MECHANISM);
    assert.deepEqual(res.mechanisms, ALL_MECHANISMS);
    assert.equal(await raw.closesWithin(), true);
  });

  test('a request other than ApiVersions or SaslHandshake before authentication closes the connection unanswered', async () => {
    for (const request of [rawRequest(3, 1, 1, Buffer.from([0xff, 0xff, 0xff, 0xff])), rawRequest(36, 1, 1, Buffer.alloc(4))]) {
      const raw = await RawKafka.open(port);
      raw.write(request);
      assert.equal(await raw.next(), undefined);
      assert.equal(raw.isClosed, true);
    }
  });

  test('ApiVersions is answered once before the handshake (with the SASL APIs); a second closes', async () => {
    const raw = await RawKafka.open(port);
    const versions = await raw.call(18, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    assert.equal(versions.errorCode, ErrorCode.NONE);
    const keys = versions.apiKeys.map((k) => k.apiKey);
    assert.ok(keys.includes(17) && keys.includes(36));
    raw.send(18, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    assert.equal(await raw.next(), undefined);
    assert.equal(raw.isClosed, true);
  });

  test('SaslHandshake v1 then a request other than SaslAuthenticate: ILLEGAL_SASL_STATE, then the close', async () => {
    const raw = await RawKafka.open(port);
    assert.equal((await raw.call(17, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
    const metadata = await raw.call(3, 1, { topics: [{ name: 'x' }] });
    assert.equal(metadata.topics[0]?.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
    assert.equal(await raw.closesWithin(), true);
  });

  test('a failed SaslAuthenticate is answered, then the connection is closed', async () => {
    const raw = await RawKafka.open(port);
    await raw.call(17, 1, { mechanism: 'PLAIN' });
    const res = await raw.call(36, 2, { authBytes: Buffer.from(`\u0000${USER}\u0000wrong`) });
    assert.equal(res.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
    assert.equal(res.errorMessage, 'Authentication failed: Invalid username or password');
    assert.equal(await raw.closesWithin(), true);
  });

  test('SaslAuthenticate v2 succeeds with session lifetime 0; SASL requests afterwards get ILLEGAL_SASL_STATE', async () => {
    const raw = await RawKafka.open(port);
    await raw.call(17, 1, { mechanism: 'PLAIN' });
    const ok = await raw.call(36, 2, { authBytes: Buffer.from(`\u0000${USER}\u0000${PASSWORD}`) });
    assert.equal(ok.errorCode, ErrorCode.NONE);
    assert.equal(ok.errorMessage, null);
    assert.equal(ok.sessionLifetimeMs, 0n);
    assert.equal((await raw.call(17, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.ILLEGAL_SASL_STATE);
    const again = await raw.call(36, 1, { authBytes: Buffer.alloc(0) });
    assert.equal(again.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
    assert.equal((await raw.call(3, 1, { topics: [] })).brokers.length, 1);
  });

  test('SaslHandshake v0: raw size-prefixed tokens, then ordinary requests', async () => {
    const raw = await RawKafka.open(port);
    assert.equal((await raw.call(17, 0, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
    raw.write(sized(Buffer.from(`\u0000${USER}\u0000${PASSWORD}`)));
    const token = await raw.next();
    assert.deepEqual(token, Buffer.alloc(0)); // PLAIN's empty answer, size-prefixed as Kafka sends it
    const id = raw.send(3, 1, { topics: [] });
    const frame = await raw.next();
    assert.ok(frame);
    assert.equal(decodeResponse(3, 1, frame).correlationId, id);
  });

  test('SaslHandshake v0 with a wrong password: closed without a response', async () => {
    const raw = await RawKafka.open(port);
    await raw.call(17, 0, { mechanism: 'PLAIN' });
    raw.write(sized(Buffer.from(`\u0000${USER}\u0000wrong`)));
    assert.equal(await raw.next(), undefined);
    assert.equal(raw.isClosed, true);
  });

  test('before authentication a frame bigger than sasl.server.max.receive.size closes the connection', async () => {
    const raw = await RawKafka.open(port);
    const head = Buffer.alloc(4);
    head.writeInt32BE(524_289);
    raw.write(head);
    assert.equal(await raw.closesWithin(), true);
  });

  test('the management API shows the user, the vhost and the mechanism of a Kafka connection', async () => {
    const raw = await RawKafka.open(port);
    await raw.call(17, 1, { mechanism: 'SCRAM-SHA-512' });
    // The connection is listed once a client authenticated through kafkajs; the raw one stays unauthenticated.
    const admin = kafkaClient(bootstrap, { sasl: sasl('plain', `${TEAM_VHOST}:${USER}`, PASSWORD) }).admin();
    await admin.connect();
    try {
      const res = await fetch(`http://127.0.0.1:${broker.handle.httpPort}/api/connections`, {
        headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
      });
      const list = (await res.json()) as { protocol: string; user: string; vhost: string; auth_mechanism: string }[];
      const kafkaConns = list.filter((c) => c.protocol === 'Kafka' && c.user === USER);
      assert.ok(kafkaConns.length > 0);
      for (const c of kafkaConns) {
        assert.equal(c.vhost, TEAM_VHOST);
        assert.equal(c.auth_mechanism, 'PLAIN');
      }
    } finally {
      await admin.disconnect();
    }
  });
});

describe('kafka: SASL requests on a listener without SASL', { skip: skipKafkaUnderReference }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker();
  });
  afterEach(() => RawKafka.destroyAll());
  after(async () => {
    await broker?.close();
  });

  test('SaslHandshake and SaslAuthenticate get ILLEGAL_SASL_STATE; other requests need no login', async () => {
    const raw = await RawKafka.open(broker.handle.kafkaPort);
    assert.equal((await raw.call(3, 1, { topics: [] })).brokers.length, 1);
    const hs = await raw.call(17, 1, { mechanism: 'PLAIN' });
    assert.equal(hs.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
    assert.deepEqual(hs.mechanisms, []);
    assert.equal((await raw.call(36, 0, { authBytes: Buffer.alloc(0) })).errorCode, ErrorCode.ILLEGAL_SASL_STATE);
  });
});
