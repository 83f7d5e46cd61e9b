// The key SNS messages are signed with, and the certificate that proves it: made on
// first use with `selfsigned` (RSA 2048) and kept in the data dir (aws/sns-signing.pem,
// mode 0600), so signatures verify against the same certificate across restarts.
// Wharf serves the certificate on the AWS listener at the SigningCertURL each message
// names (/SimpleNotificationService-<hash>.pem, AWS's form of the URL).

import { createHash, createPrivateKey, createSign, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { fsyncDir } from '../../../store/disk.js';

export interface SnsSigningKey {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** The path it is served at: /SimpleNotificationService-<32 hex>.pem. */
  readonly certPath: string;
  /** base64 signature of `text`: SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA; on libuv's thread pool. */
  sign(text: string, version: '1' | '2'): Promise<string>;
  /** The same, on the calling thread (where the order of deliveries must be kept: FIFO topics). */
  signSync(text: string, version: '1' | '2'): string;
}

const FILE = 'sns-signing.pem';

/** The data dir's signing key, made (and written durably) if it has none. */
export async function loadSigningKey(dataDir: string): Promise<SnsSigningKey> {
  const dir = join(dataDir, 'aws');
  const path = join(dir, FILE);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    pem = await makeKey();
    await mkdir(dir, { recursive: true });
    // Private: mode 0600 (so not writeFileAtomic's 0644), then the same temp file, rename and directory fsync.
    await writeFile(`${path}.tmp`, pem, { mode: 0o600, flush: true });
    await rename(`${path}.tmp`, path);
    await fsyncDir(dir);
  }
  return fromPem(pem);
}

async function makeKey(): Promise<string> {
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 10);
  const pems = await generate([{ name: 'commonName', value: 'sns.amazonaws.com' }], { keySize: 2048, algorithm: 'sha256', notAfterDate: notAfter });
  return `${pems.private.trim()}\n${pems.cert.trim()}\n`;
}

function fromPem(pem: string): SnsSigningKey {
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!cert) throw new Error('the SNS signing file has no certificate');
  const key: KeyObject = createPrivateKey(pem);
  const certPem = `${cert}\n`;
  const hash = createHash('md5').update(certPem).digest('hex');
  return {
    certPem,
    certPath: `/SimpleNotificationService-${hash}.pem`,
    sign(text, version) {
      // An RSA signature costs about a millisecond of CPU: off the event loop, a busy broker signs on every core.
      return new Promise((resolve, reject) => {
        sign(version === '2' ? 'sha256' : 'sha1', Buffer.from(text, 'utf8'), key, (err, sig) => (err ? reject(err) : resolve(sig.toString('base64'))));
      });
    },
    signSync(text, version) {
      return createSign(version === '2' ? 'RSA-SHA256' : 'RSA-SHA1').update(text, 'utf8').sign(key, 'base64');
    },
  };
}
