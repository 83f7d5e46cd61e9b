// TLS as an operator meets it: the HTTP API over HTTPS, certificates renewed
// with SIGHUP (in-process and through `wharf serve`), a bad new certificate,
// fail_if_no_peer_cert, and EXTERNAL names from the subject alternative name.
// Wharf-only: these need Wharf's own listeners and process.

import { connect, credentials } from 'amqplib';
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { describe, it } from 'node:test';
import { TEST_OPTS, WAIT_MS, uniqueName, withTimeout } from '../helpers/async.js';
import { assertRejectsWith } from '../helpers/amqplib.js';
import { isReference, makeDataDir, skipUnderReference, spawnBroker, startTestBroker } from '../helpers/broker.js';
import { CERT_USER, useTlsBroker } from '../helpers/tls-broker.js';
import { makeTlsFixture, type CertFiles, type TlsFixture } from '../helpers/tls.js';

const opts = { ...TEST_OPTS, skip: skipUnderReference };
const skip = isReference ? 'Wharf\'s own listeners and process' : false;

/** GET over HTTPS trusting the fixture's CA; resolves with status, body and the server certificate's CN. */
function httpsGet(
  port: number, path: string, ca: Buffer, auth?: string, client?: CertFiles,
): Promise<{ status: number; body: string; cn: string }> {
  return withTimeout(new Promise((resolve, reject) => {
    // agent: false: a new connection each time (the global agent keeps them alive), so each sees the current certificate.
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false,
      ...(auth ? { auth } : {}), ...(client ? { cert: client.cert, key: client.key } : {}) }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => { body += s; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cn: String(cert.subject?.CN ?? '') }));
    });
    req.on('error', reject);
    req.end();
  }), WAIT_MS, `GET https://127.0.0.1:${port}${path}`);
}

/** The CN of the certificate a TLS listener serves to a new connection. */
function servedCn(port: number, ca: Buffer): Promise<string> {
  return withTimeout(new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca, servername: 'localhost' }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? '');
      s.destroy();
      resolve(cn);
    });
    s.on('error', reject);
  }), WAIT_MS, 'a TLS handshake');
}

/** Installs another server certificate from the fixture's CA where the broker reads its files. */
async function installServerCert(fx: TlsFixture, name: string): Promise<void> {
  const next = await fx.makeServer(name);
  await copyFile(next.certFile, fx.server.certFile);
  await copyFile(next.keyFile, fx.server.keyFile);
}

describe('HTTPS and certificate reload', { skip }, () => {
  const tls = useTlsBroker();

  it('serves the HTTP API over HTTPS with the same TLS policy', opts, async () => {
    const port = tls.broker.handle.httpsPort as number;
    const health = await httpsGet(port, '/api/health', tls.fixture.ca);
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
    const overview = await httpsGet(port, '/api/overview', tls.fixture.ca, 'guest:guest');
    assert.equal(overview.status, 200);
    const listeners = (JSON.parse(overview.body) as { listeners: { protocol: string; port: number }[] }).listeners;
    assert.deepEqual(
      listeners.map((l) => l.protocol).sort(),
      ['amqp', 'amqp/ssl', 'http', 'https', 'kafka'],
    );
    assert.equal(listeners.find((l) => l.protocol === 'amqp/ssl')?.port, tls.amqpsPort);
    // verify_peer applies to HTTPS too: a client certificate from another CA is refused.
    const stranger = await tls.fixture.makeStranger('https-stranger');
    await assert.rejects(httpsGet(port, '/api/health', tls.fixture.ca, undefined, stranger));
    const known = await tls.fixture.makeClient('https-client');
    assert.equal((await httpsGet(port, '/api/health', tls.fixture.ca, undefined, known)).status, 200);
  });

  it('lists TLS connections with ssl true, the protocol, and the client certificate', opts, async () => {
    const client = await tls.fixture.makeClient(CERT_USER);
    await tls.connectTls({ client, external: true });
    const port = tls.broker.handle.httpsPort as number;
    const list = JSON.parse((await httpsGet(port, '/api/connections', tls.fixture.ca, 'guest:guest')).body) as Record<string, unknown>[];
    const conn = list.find((c) => c.user === CERT_USER);
    assert.ok(conn, JSON.stringify(list));
    assert.equal(conn.ssl, true);
    assert.equal(conn.auth_mechanism, 'EXTERNAL');
    assert.match(String(conn.ssl_protocol), /^TLSv1\.[23]$/);
    assert.equal(conn.peer_cert_subject, `CN=${CERT_USER},O=Wharf tests`);
    assert.equal(conn.peer_cert_issuer, 'CN=ca');
  });

  it('reloads the certificate for new connections; open ones keep working; a bad one is refused', opts, async () => {
    const conn = await tls.connectTls();
    const ch = await conn.createConfirmChannel();
    const q = uniqueName('tls-reload');
    await ch.assertQueue(q, { exclusive: true });
    assert.equal(await servedCn(tls.amqpsPort, tls.fixture.ca), 'localhost');

    await installServerCert(tls.fixture, 'renewed');
    assert.equal(await tls.broker.handle.reloadTls(), true);
    assert.equal(await servedCn(tls.amqpsPort, tls.fixture.ca), 'renewed');
    assert.equal((await httpsGet(tls.broker.handle.httpsPort as number, '/api/health', tls.fixture.ca)).cn, 'renewed');
    ch.sendToQueue(q, Buffer.from('after reload'));
    await ch.waitForConfirms();

    // A broken certificate file: logged, and the renewed certificate stays.
    await writeFile(tls.fixture.server.certFile, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    assert.equal(await tls.broker.handle.reloadTls(), false);
    assert.equal(await servedCn(tls.amqpsPort, tls.fixture.ca), 'renewed');
    // A key that does not belong to the certificate: refused too.
    const other = await tls.fixture.makeServer('mismatch');
    await copyFile(other.certFile, tls.fixture.server.certFile);
    assert.equal(await tls.broker.handle.reloadTls(), false);
    assert.equal(await servedCn(tls.amqpsPort, tls.fixture.ca), 'renewed');

    assert.equal((await ch.checkQueue(q)).messageCount, 1);
    await (await tls.connectTls()).close();
  });
});

describe('fail_if_no_peer_cert', { skip }, () => {
  it('refuses a client without a certificate and accepts one with', opts, async () => {
    const fx = await makeTlsFixture();
    const strict = await startTestBroker({
      tls: { certFile: fx.server.certFile, keyFile: fx.server.keyFile, caFile: fx.caFile, verifyPeer: true, failIfNoPeerCert: true },
      amqpsPort: 0,
      users: [{ name: CERT_USER, password: 'unused' }],
    });
    try {
      const port = strict.handle.amqpsPort as number;
      await assert.rejects(withTimeout(connect(`amqps://guest:guest@127.0.0.1:${port}`, { ca: [fx.ca], servername: 'localhost' }), WAIT_MS, 'refusal'));
      const client = await fx.makeClient(CERT_USER);
      const conn = await connect(`amqps://127.0.0.1:${port}`, {
        ca: [fx.ca], servername: 'localhost', cert: client.cert, key: client.key, credentials: credentials.external(),
      });
      await conn.close();
    } finally {
      await strict.close();
      await fx.remove();
    }
  });
});

describe('EXTERNAL from the subject alternative name', { skip }, () => {
  const tls = useTlsBroker({ certLoginFrom: 'subject_alternative_name', users: [{ name: 'svc.wharf.test', password: 'unused' }, { name: 'ops@wharf.test', password: 'unused' }] });

  it('takes the first DNS name, else the first email address', opts, async () => {
    const dns = await tls.fixture.makeClient('san-dns', { cn: 'not-a-user', san: 'email:ops@wharf.test,DNS:svc.wharf.test' });
    await (await tls.connectTls({ client: dns, external: true })).close();
    const email = await tls.fixture.makeClient('san-email', { cn: 'not-a-user', san: 'email:ops@wharf.test' });
    await (await tls.connectTls({ client: email, external: true })).close();
    const none = await tls.fixture.makeClient('san-none', { cn: 'svc.wharf.test' });
    await assertRejectsWith(tls.connectTls({ client: none, external: true }), 403, /EXTERNAL/);
  });
});

describe('wharf serve with TLS', { skip }, () => {
  it('prints amqps= and https=, and reloads the certificate on SIGHUP', opts, async () => {
    const fx = await makeTlsFixture();
    const b = await spawnBroker(await makeDataDir(), [
      '--tls-cert', fx.server.certFile, '--tls-key', fx.server.keyFile, '--tls-ca', fx.caFile, '--amqps-port', '0', '--https-port', '0',
    ]);
    try {
      const port = b.amqpsPort as number;
      assert.ok(b.httpsPort !== undefined && b.httpsPort > 0);
      const conn = await connect(`amqps://guest:guest@127.0.0.1:${port}`, { ca: [fx.ca], servername: 'localhost' });
      conn.on('error', () => undefined);
      const ch = await conn.createChannel();
      assert.equal(await servedCn(port, fx.ca), 'localhost');
      await installServerCert(fx, 'after-sighup');
      b.process.kill('SIGHUP');
      // The reload is asynchronous (it reads files): wait for new connections to see it.
      let cn = '';
      const deadline = Date.now() + WAIT_MS;
      while ((cn = await servedCn(port, fx.ca)) !== 'after-sighup' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(cn, 'after-sighup');
      const q = uniqueName('tls-sighup');
      await ch.assertQueue(q, { exclusive: true });
      await conn.close();
    } finally {
      await b.kill();
      await fx.remove();
    }
  });
});
