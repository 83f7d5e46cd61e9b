// A broker with an AMQPS listener for the TLS suites: Wharf with a throwaway CA
// and server certificate (test/helpers/tls.ts), or, in reference mode, a real
// RabbitMQ with a TLS listener started by scripts/reference-rabbitmq.sh with
// WHARF_REFERENCE_TLS_DIR (its CA signs the client certificates made here):
//
//   WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:36100 \
//   WHARF_TEST_REFERENCE_AMQPS_URL=amqps://guest:guest@127.0.0.1:36103 \
//   WHARF_TEST_REFERENCE_TLS_DIR=/tmp/wharf-ref-tls/certs node --test dist/test/integration/tls.test.js

import { connect, credentials, type ChannelModel } from 'amqplib';
import { after, before } from 'node:test';
import { withTimeout, WAIT_MS } from './async.js';
import { isReference, startTestBroker, type TestBroker, type TestBrokerOptions } from './broker.js';
import { makeTlsFixture, type CertFiles, type TlsFixture } from './tls.js';

const refAmqpsUrl = process.env.WHARF_TEST_REFERENCE_AMQPS_URL || undefined;
const refTlsDir = process.env.WHARF_TEST_REFERENCE_TLS_DIR || undefined;

/** Skip reason for TLS suites under a reference broker without a TLS listener. */
export const skipWithoutReferenceTls: string | false =
  isReference && (refAmqpsUrl === undefined || refTlsDir === undefined)
    ? 'needs a RabbitMQ with a TLS listener (WHARF_TEST_REFERENCE_AMQPS_URL, WHARF_TEST_REFERENCE_TLS_DIR)'
    : false;

/** The user EXTERNAL logins map to (the reference script creates it in RabbitMQ too). */
export const CERT_USER = 'wharf-tls-client';

export interface TlsScope {
  readonly fixture: TlsFixture;
  readonly broker: TestBroker;
  readonly amqpsPort: number;
  /** Opens an amqplib connection over TLS (CA trusted; a client certificate when given; EXTERNAL when asked). */
  connectTls(opts?: { client?: CertFiles; external?: boolean; user?: string }): Promise<ChannelModel>;
}

/**
 * Starts the broker (verify_peer, not fail_if_no_peer_cert: both kinds of client
 * are accepted, as the reference RabbitMQ is configured) and closes it after the suite.
 */
export function useTlsBroker(opts: TestBrokerOptions = {}): TlsScope {
  let fixture: TlsFixture | undefined;
  let broker: TestBroker | undefined;
  let amqpsPort = 0;
  const open: ChannelModel[] = [];
  before(async () => {
    if (skipWithoutReferenceTls) return;
    fixture = await makeTlsFixture(isReference ? refTlsDir : undefined);
    broker = await startTestBroker({
      tls: { certFile: fixture.server.certFile, keyFile: fixture.server.keyFile, caFile: fixture.caFile, verifyPeer: true },
      amqpsPort: 0,
      httpsPort: 0,
      users: [{ name: CERT_USER, password: 'not-used-by-external' }],
      ...opts,
    });
    amqpsPort = isReference ? Number(new URL(refAmqpsUrl as string).port) : (broker.handle.amqpsPort as number);
  });
  after(async () => {
    for (const c of open.splice(0)) await c.close().catch(() => undefined);
    await broker?.close();
    await fixture?.remove();
  });
  return {
    get fixture() {
      if (!fixture) throw new Error('no fixture yet');
      return fixture;
    },
    get broker() {
      if (!broker) throw new Error('no broker yet');
      return broker;
    },
    get amqpsPort() {
      return amqpsPort;
    },
    async connectTls(o = {}) {
      const fx = fixture as TlsFixture;
      const url = o.external
        ? `amqps://127.0.0.1:${amqpsPort}`
        : `amqps://${o.user ?? 'guest'}:guest@127.0.0.1:${amqpsPort}`;
      const conn = await withTimeout(
        connect(url, {
          ca: [fx.ca],
          servername: 'localhost',
          ...(o.client ? { cert: o.client.cert, key: o.client.key } : {}),
          ...(o.external ? { credentials: credentials.external() } : {}),
        }),
        WAIT_MS,
        'an AMQPS connection',
      );
      conn.on('error', () => undefined);
      open.push(conn);
      return conn;
    },
  };
}
