// The SCRAM server against RFC 7677's SCRAM-SHA-256 example exchange (so the maths is the RFC's,
// not merely self-consistent), a SCRAM-SHA-512 exchange with a client written here from RFC 5802,
// and the refusals Kafka's ScramSaslServer makes.

import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, test } from 'node:test';
import { deriveScramCredentials, type ScramCredentials, type ScramHash } from '../../../../src/broker/scram-credentials.js';
import { SaslAuthenticationError, SaslError, splitLogin, type SaslBackend } from '../../../../src/server/kafka/sasl/mechanism.js';
import { PlainServer } from '../../../../src/server/kafka/sasl/plain.js';
import { ScramServer, saslNameToLogin } from '../../../../src/server/kafka/sasl/scram.js';

const RFC_SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');

function backend(users: Record<string, string>, vhosts = ['/'], salt = RFC_SALT): SaslBackend {
  return {
    authenticate: (u, p) => users[u] === p,
    scramCredentials: (u, h): ScramCredentials | undefined => (users[u] === undefined ? undefined : deriveScramCredentials(users[u], h, salt, 4096)),
    vhostExists: (v) => vhosts.includes(v),
  };
}

const silent = (): void => {};

/** RFC 5802 §3 client side, enough to drive the server: the final message for `serverFirst`. */
function clientFinal(hash: ScramHash, password: string, clientFirstBare: string, serverFirst: string): { message: string; serverSignature: string } {
  return clientFinalWithNonce(hash, password, clientFirstBare, serverFirst, /r=([^,]+)/.exec(serverFirst)?.[1] ?? '');
}

/** A client-final message with `nonce` in it (the way librdkafka builds one), signed over what it sends. */
function clientFinalWithNonce(hash: ScramHash, password: string, clientFirstBare: string, serverFirst: string, nonce: string): { message: string; serverSignature: string } {
  const alg = hash === 'SHA-256' ? 'sha256' : 'sha512';
  const fields = Object.fromEntries(serverFirst.split(',').map((f) => [f[0], f.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(fields.s as string, 'base64'), Number(fields.i), hash === 'SHA-256' ? 32 : 64, alg);
  const clientKey = createHmac(alg, salted).update('Client Key').digest();
  const storedKey = createHash(alg).update(clientKey).digest();
  const withoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac(alg, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number)));
  const serverKey = createHmac(alg, salted).update('Server Key').digest();
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    serverSignature: `v=${createHmac(alg, serverKey).update(authMessage).digest('base64')}`,
  };
}

describe('kafka SASL: SCRAM server', () => {
  test("RFC 7677's SCRAM-SHA-256 exchange, byte for byte", () => {
    const server = new ScramServer('SHA-256', backend({ user: 'pencil' }), () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
    const first = server.evaluate(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    assert.equal(first.toString(), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    assert.equal(server.identity, undefined);
    const final = server.evaluate(
      Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='),
    );
    assert.equal(final.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    assert.deepEqual(server.identity, { user: 'user', vhost: '/', mechanism: 'SCRAM-SHA-256' });
  });

  test('SCRAM-SHA-512 with a vhost:user login', () => {
    const server = new ScramServer('SHA-512', backend({ alice: 's3cret' }, ['/', 'team-a']));
    const bare = 'n=team-a:alice,r=abcdefghijklmnop';
    const first = server.evaluate(Buffer.from(`n,,${bare}`)).toString();
    assert.match(first, /^r=abcdefghijklmnop[^,]+,s=[A-Za-z0-9+/=]+,i=4096$/);
    const c = clientFinal('SHA-512', 's3cret', bare, first);
    assert.equal(server.evaluate(Buffer.from(c.message)).toString(), c.serverSignature);
    assert.deepEqual(server.identity, { user: 'alice', vhost: 'team-a', mechanism: 'SCRAM-SHA-512' });
  });

  test('a wrong password, an unknown user, an unknown vhost and channel binding are refused', () => {
    const tryLogin = (login: string, password: string, gs2 = 'n,,'): unknown => {
      const server = new ScramServer('SHA-256', backend({ alice: 'right' }));
      const bare = `n=${login},r=nonce123`;
      try {
        const first = server.evaluate(Buffer.from(`${gs2}${bare}`)).toString();
        server.evaluate(Buffer.from(clientFinal('SHA-256', password, bare, first).message));
      } catch (err) {
        return err;
      }
      return undefined;
    };
    assert.ok(tryLogin('alice', 'right') === undefined);
    for (const err of [tryLogin('alice', 'wrong'), tryLogin('bob', 'right'), tryLogin('nope:alice', 'right'), tryLogin('alice', 'right', 'y,,'), tryLogin('alice', 'right', 'p=tls-unique,,')]) {
      assert.ok(err instanceof SaslError, String(err));
    }
  });

  test('a final message with another nonce is refused', () => {
    const server = new ScramServer('SHA-256', backend({ alice: 'right' }));
    const first = server.evaluate(Buffer.from('n,,n=alice,r=nonce123')).toString();
    const forged = first.replace('r=nonce123', 'r=nonce124');
    assert.throws(() => server.evaluate(Buffer.from(clientFinal('SHA-256', 'right', 'n=alice,r=nonce123', forged).message)), SaslError);
  });

  test("librdkafka's final nonce (its own nonce again in front of the whole nonce) is accepted", () => {
    const server = new ScramServer('SHA-256', backend({ alice: 'right' }));
    const bare = 'n=alice,r=cnonce';
    const first = server.evaluate(Buffer.from(`n,,${bare}`)).toString();
    const nonce = /r=([^,]+)/.exec(first)?.[1] ?? '';
    const c = clientFinalWithNonce('SHA-256', 'right', bare, first, `cnonce${nonce}`);
    assert.equal(server.evaluate(Buffer.from(c.message)).toString(), c.serverSignature);
    assert.equal(server.identity?.user, 'alice');
  });

  test('saslname escapes and vhost:user logins', () => {
    assert.equal(saslNameToLogin('a=2Cb=3Dc'), 'a,b=c');
    assert.deepEqual(splitLogin('alice'), { vhost: '/', user: 'alice' });
    assert.deepEqual(splitLogin('team-a:alice'), { vhost: 'team-a', user: 'alice' });
    assert.deepEqual(splitLogin('/:a:b'), { vhost: '/', user: 'a:b' });
  });
});

describe('kafka SASL: PLAIN server', () => {
  const login = (token: string): unknown => {
    const server = new PlainServer(backend({ alice: 'right' }, ['/', 'v1']), silent);
    try {
      server.evaluate(Buffer.from(token));
      return server.identity;
    } catch (err) {
      return err;
    }
  };

  test('authcid and password, with or without the same authzid', () => {
    assert.deepEqual(login('\u0000alice\u0000right'), { user: 'alice', vhost: '/', mechanism: 'PLAIN' });
    assert.deepEqual(login('v1:alice\u0000v1:alice\u0000right'), { user: 'alice', vhost: 'v1', mechanism: 'PLAIN' });
  });

  test("refusals carry Kafka's PlainSaslServer messages", () => {
    const message = (token: string): string => {
      const err = login(token);
      assert.ok(err instanceof SaslAuthenticationError, String(err));
      return err.message;
    };
    assert.equal(message('\u0000alice\u0000wrong'), 'Authentication failed: Invalid username or password');
    assert.equal(message('\u0000nobody\u0000right'), 'Authentication failed: Invalid username or password');
    assert.equal(message('\u0000v2:alice\u0000right'), 'Authentication failed: Invalid username or password');
    assert.equal(message('\u0000\u0000right'), 'Authentication failed: username not specified');
    assert.equal(message('\u0000alice\u0000'), 'Authentication failed: password not specified');
    assert.equal(message('alice\u0000right'), 'Invalid SASL/PLAIN response: expected 3 tokens, got 2');
    assert.equal(message('bob\u0000alice\u0000right'), 'Authentication failed: Client requested an authorization id that is different from username');
  });
});
