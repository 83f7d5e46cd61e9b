// Password hashes in RabbitMQ's format, so users exported from RabbitMQ keep
// their passwords: base64(4-byte salt ++ H(salt ++ utf8 password)), where H is
// named by the user's hashing_algorithm (rabbit_password_hashing_sha256, the
// default, _sha512 and the legacy _md5). Hashing is one digest: cheap enough that
// a burst of failed logins never slows anyone down, and no plaintext is ever kept.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SHA256 = 'rabbit_password_hashing_sha256';
export const SHA512 = 'rabbit_password_hashing_sha512';
export const MD5 = 'rabbit_password_hashing_md5';

const DIGESTS: Readonly<Record<string, string>> = { [SHA256]: 'sha256', [SHA512]: 'sha512', [MD5]: 'md5' };

const SALT_BYTES = 4;

export function isHashingAlgorithm(name: string): boolean {
  return name in DIGESTS;
}

/** A new salted hash of `password` (sha256 unless told otherwise). */
export function hashPassword(password: string, algorithm = SHA256): string {
  return saltedHash(randomBytes(SALT_BYTES), password, algorithm).toString('base64');
}

/**
 * True when `password` matches `hash`. An empty hash never matches (RabbitMQ: a user
 * created with password_hash "" cannot log in with a password).
 */
export function verifyPassword(password: string, hash: string, algorithm: string): boolean {
  if (hash === '' || !(algorithm in DIGESTS)) return false;
  const stored = Buffer.from(hash, 'base64');
  if (stored.length <= SALT_BYTES) return false;
  const computed = saltedHash(stored.subarray(0, SALT_BYTES), password, algorithm);
  return computed.length === stored.length && timingSafeEqual(computed, stored);
}

function saltedHash(salt: Buffer, password: string, algorithm: string): Buffer {
  const digest = DIGESTS[algorithm];
  if (digest === undefined) throw new Error(`unknown hashing algorithm '${algorithm}'`);
  return Buffer.concat([salt, createHash(digest).update(salt).update(password, 'utf8').digest()]);
}
