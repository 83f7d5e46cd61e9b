// Throwaway certificates for the TLS suites, made with the openssl command in a
// temp dir: a CA, server certificates for localhost/127.0.0.1 signed by it, and
// client certificates with a chosen CN and SANs (for EXTERNAL). Also a small
// wrapper around `openssl s_client` for the version and cipher checks.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TlsFixture {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  /** The first server certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1), RSA so static-RSA suites could apply. */
  readonly server: CertFiles;
  /** Another server certificate from the same CA, with the given CN (for reload tests). */
  makeServer(name: string): Promise<CertFiles>;
  /** A client certificate from the same CA. */
  makeClient(name: string, opts?: { cn?: string; san?: string }): Promise<CertFiles>;
  /** A client certificate from another CA (does not verify). */
  makeStranger(name: string): Promise<CertFiles>;
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('openssl', args, { cwd });
  return stdout;
}

async function selfSignedCa(dir: string, name: string): Promise<void> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`], dir);
}

/** A key (RSA 2048 for servers, P-256 for clients) and a certificate signed by `ca`, with the extensions given. */
async function signed(dir: string, ca: string, name: string, subject: string, ext: string, rsa: boolean): Promise<CertFiles> {
  const keyArgs = rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  await openssl(['req', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}

/**
 * A fresh CA and server certificate in a new temp dir; or, given `existingDir`
 * (a reference RabbitMQ's, made by scripts/reference-rabbitmq.sh with
 * WHARF_REFERENCE_TLS_DIR), the CA and localhost certificate already there, so
 * the client certificates made here verify against that broker.
 */
export async function makeTlsFixture(existingDir?: string): Promise<TlsFixture> {
  const dir = existingDir ?? (await mkdtemp(join(tmpdir(), 'wharf-tls-')));
  const makeServer = (name: string): Promise<CertFiles> =>
    signed(dir, 'ca', name, `/CN=${name}`,
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n', true);
  let server: CertFiles;
  if (existingDir === undefined) {
    await selfSignedCa(dir, 'ca');
    server = await makeServer('localhost');
  } else {
    const certFile = join(dir, 'localhost.pem');
    const keyFile = join(dir, 'localhost.key');
    server = { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
  }
  let strangerCa = false;
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    ca: await readFile(join(dir, 'ca.pem')),
    server,
    makeServer,
    makeClient: (name, opts = {}) =>
      signed(dir, 'ca', name, `/O=Wharf tests/CN=${opts.cn ?? name}`,
        `extendedKeyUsage=clientAuth\n${opts.san !== undefined ? `subjectAltName=${opts.san}\n` : ''}`, false),
    async makeStranger(name) {
      if (!strangerCa) {
        await selfSignedCa(dir, 'stranger-ca');
        strangerCa = true;
      }
      return signed(dir, 'stranger-ca', name, `/CN=${name}`, 'extendedKeyUsage=clientAuth\n', false);
    },
    remove: () => (existingDir === undefined ? rm(dir, { recursive: true, force: true }) : Promise.resolve()),
  };
}

export interface SClientResult {
  /** The handshake completed (openssl printed a negotiated protocol and cipher). */
  readonly connected: boolean;
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  readonly output: string;
}

/** `openssl s_client` against host:port with extra arguments; stdin closed at once, so it exits after the handshake. */
export async function sClient(port: number, args: string[], cwd: string): Promise<SClientResult> {
  let output: string;
  try {
    const pending = run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], {
      cwd, timeout: 20_000,
    });
    pending.child.stdin?.end();
    const r = await pending;
    output = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    output = (e.stdout ?? '') + (e.stderr ?? '');
  }
  // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"; "New, (NONE), Cipher is (NONE)" when it failed.
  const summary = /New, (\S+), Cipher is (\S+)/.exec(output);
  const protocol = summary?.[1];
  const cipher = summary?.[2];
  const connected = cipher !== undefined && cipher !== '0000' && cipher !== '(NONE)';
  return { connected, protocol, cipher, output };
}
