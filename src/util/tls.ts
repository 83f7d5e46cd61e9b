// TLS settings shared by the AMQPS and HTTPS listeners: which files hold the
// certificate, key and CA, whether client certificates are asked for, and the
// protocol versions and cipher suites offered. One policy for every listener,
// so an operator reviews it once (docs/security.md, "TLS").

import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext, type TlsOptions as NodeTlsOptions } from 'node:tls';

export interface TlsSettings {
  /** PEM certificate chain the server presents (the leaf first). */
  readonly certFile: string;
  /** PEM private key of that certificate. */
  readonly keyFile: string;
  /** PEM CA bundle client certificates are checked against; absent: the system's CAs. */
  readonly caFile?: string;
  /** Ask clients for a certificate and check it (RabbitMQ's ssl_options.verify = verify_peer). */
  readonly verifyPeer?: boolean;
  /** With verifyPeer: refuse clients without a certificate (ssl_options.fail_if_no_peer_cert). */
  readonly failIfNoPeerCert?: boolean;
}

/**
 * TLS 1.2 suites with forward secrecy (ECDHE key exchange) and an AEAD cipher
 * only, then the three TLS 1.3 suites (all forward-secret). Node's default list
 * still allows static-RSA key exchange (e.g. AES256-SHA256), which a stolen
 * server key turns into a decryption of every recorded session. DHE suites are
 * left out: they need DH parameters, and every client in use speaks ECDHE.
 */
export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** RabbitMQ's ssl_handshake_timeout: a client that has not finished its TLS handshake by then is dropped. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5000;

/** The certificate material, read from the files; what SIGHUP re-reads. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

export async function readTlsMaterial(s: TlsSettings): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readFile(s.certFile),
    readFile(s.keyFile),
    s.caFile === undefined ? Promise.resolve(undefined) : readFile(s.caFile),
  ]);
  return ca === undefined ? { cert, key } : { cert, key, ca };
}

/** The versions and suites every Wharf TLS listener allows, with the given certificate material. */
function contextOptions(m: TlsMaterial): NodeTlsOptions {
  return {
    cert: m.cert,
    key: m.key,
    ...(m.ca !== undefined ? { ca: m.ca } : {}),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  };
}

/**
 * Options for tls.createServer / https.createServer. Verification is RabbitMQ's:
 * with verifyPeer a client certificate is requested and, when presented, must
 * chain to the CA (checked by the listener after the handshake, see
 * peerCertificateRejected); with failIfNoPeerCert as well, no certificate means
 * the handshake fails.
 */
export function serverOptions(s: TlsSettings, m: TlsMaterial, handshakeTimeoutMs: number): NodeTlsOptions {
  const verify = s.verifyPeer === true;
  return {
    ...contextOptions(m),
    requestCert: verify,
    rejectUnauthorized: verify && s.failIfNoPeerCert === true,
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/**
 * A secure context for server.setSecureContext (SIGHUP reload). Throws when the
 * key does not match the certificate or a PEM does not parse, so a bad new
 * certificate is refused before it replaces the one being served.
 */
export function secureContext(m: TlsMaterial): SecureContext {
  return createSecureContext(contextOptions(m));
}

/** Reads and checks the files; resolves with what setSecureContext needs. */
export async function loadContextOptions(s: TlsSettings): Promise<NodeTlsOptions> {
  const m = await readTlsMaterial(s);
  secureContext(m);
  return contextOptions(m);
}

/**
 * With verify_peer but not fail_if_no_peer_cert, RabbitMQ accepts a client
 * without a certificate but refuses one whose certificate does not verify. Node
 * (requestCert without rejectUnauthorized) accepts both, so the listener asks
 * this after the handshake.
 */
export function peerCertificateRejected(
  socket: { authorized: boolean; getPeerCertificate(): object | null },
  s: TlsSettings,
): boolean {
  if (s.verifyPeer !== true || socket.authorized) return false;
  const cert = socket.getPeerCertificate();
  return cert !== null && Object.keys(cert).length > 0;
}

/** Where EXTERNAL takes the user name from (RabbitMQ's ssl_cert_login_from). */
export type CertLoginFrom = 'common_name' | 'subject_alternative_name';
export const certLoginFroms: readonly CertLoginFrom[] = ['common_name', 'subject_alternative_name'];

/** The parts of Node's PeerCertificate that name its holder. */
export interface CertNames {
  readonly subject?: Readonly<Record<string, string | string[] | undefined>>;
  readonly subjectaltname?: string;
}

/**
 * The user name a client certificate logs in as (EXTERNAL), or undefined when it
 * has none. common_name: the subject's CN (the last one if several, as the most
 * specific). subject_alternative_name: the first DNS name, else the first email
 * address (RabbitMQ's ssl_cert_login_san_type dns, index 0; email as the fallback
 * for person certificates, which carry no DNS name).
 */
export function certLoginName(cert: CertNames, from: CertLoginFrom): string | undefined {
  if (from === 'common_name') {
    const cn = cert.subject?.CN;
    const name = Array.isArray(cn) ? cn[cn.length - 1] : cn;
    return name === undefined || name === '' ? undefined : name;
  }
  const sans = parseSubjectAltNames(cert.subjectaltname ?? '');
  const pick = (type: string): string | undefined => sans.find((s) => s.type === type && s.value !== '')?.value;
  return pick('DNS') ?? pick('email');
}

/**
 * Node's subjectaltname string: "DNS:a.example, email:x@y, IP Address:1.2.3.4";
 * a value with a comma or quote is a JSON string ("DNS:\"a,b\"").
 */
export function parseSubjectAltNames(text: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  const re = /\s*([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    let value = m[2];
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // not JSON after all: keep it as written
      }
    }
    out.push({ type: m[1].trim(), value: value.trim() });
    if (m[0] === '') break;
  }
  return out;
}
