// SCRAM credentials (RFC 5802 §3): what a server keeps to check a SCRAM client without
// knowing its password. Derived once from a password and a random salt; the password itself
// is not needed again. Kafka stores exactly these four values per user and mechanism.

import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

export type ScramHash = 'SHA-256' | 'SHA-512';

export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Kafka's default for new SCRAM credentials (and its minimum for SCRAM-SHA-256/512). */
export const SCRAM_ITERATIONS_DEFAULT = 4096;

/** Node's name for a SCRAM hash. */
export function nodeHashName(hash: ScramHash): 'sha256' | 'sha512' {
  return hash === 'SHA-256' ? 'sha256' : 'sha512';
}

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(nodeHashName(hash), key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(nodeHashName(hash)).update(data).digest();
}

/**
 * RFC 5802 §3: SaltedPassword = Hi(password, salt, i) (PBKDF2 with HMAC), StoredKey =
 * H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key").
 * The password is taken as UTF-8 without SASLprep, as Kafka's ScramFormatter does.
 */
export function deriveScramCredentials(password: string, hash: ScramHash, salt: Buffer, iterations: number): ScramCredentials {
  const h = nodeHashName(hash);
  const saltedPassword = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, hash === 'SHA-256' ? 32 : 64, h);
  const clientKey = hmac(hash, saltedPassword, 'Client Key');
  return {
    salt: Buffer.from(salt),
    iterations,
    storedKey: digest(hash, clientKey),
    serverKey: hmac(hash, saltedPassword, 'Server Key'),
  };
}
