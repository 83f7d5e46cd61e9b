// AWS Signature Version 4 verification (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
// the server recomputes the canonical request, the string to sign and the
// signature from the request it received and the secret of the access key the
// Authorization header names, and compares. Only header-signed requests
// (Authorization: AWS4-HMAC-SHA256 ...), which is what the SDKs and the CLI send.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AwsError } from './errors.js';

export interface SignedRequest {
  readonly method: string;
  /** The path as sent (still percent-encoded), without the query. */
  readonly path: string;
  /** The query string as sent, without '?'. */
  readonly query: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface Credential {
  readonly accessKey: string;
  readonly secret: string;
}

export interface VerifiedSignature {
  readonly accessKey: string;
  readonly region: string;
  readonly service: string;
}

/** How far the request's time may be from the server's (AWS: 15 minutes). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const AUTH = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;

export function verifySignature(req: SignedRequest, lookup: (accessKey: string) => Credential | undefined, now = Date.now()): VerifiedSignature {
  const header = single(req.headers.authorization);
  if (header === undefined) throw new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
  const m = AUTH.exec(header);
  if (!m) throw new AwsError('IncompleteSignature', `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${header.split(' ')[0]}`, 400);
  const [, accessKey, date, region, service, signedHeaderList, signature] = m;
  const cred = lookup(accessKey);
  if (!cred) throw new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
  const amzDate = single(req.headers['x-amz-date']);
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) {
    throw new AwsError('IncompleteSignature', 'Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.', 400);
  }
  const at = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (!(Math.abs(now - at) <= MAX_CLOCK_SKEW_MS)) {
    throw new AwsError('SignatureDoesNotMatch', `Signature expired: ${amzDate} is now earlier than ${compact(new Date(now - MAX_CLOCK_SKEW_MS))} (${compact(new Date(now))} - 15 min.)`, 403);
  }
  const signedHeaders = signedHeaderList.split(';');
  const canonical = [
    req.method,
    canonicalPath(req.path),
    canonicalQuery(req.query),
    signedHeaders.map((h) => `${h}:${headerValue(req.headers[h])}\n`).join(''),
    signedHeaderList,
    single(req.headers['x-amz-content-sha256']) ?? sha256(req.body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`;
  const expected = hmac(signingKey(cred.secret, date, region, service), toSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new AwsError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      403,
    );
  }
  return { accessKey, region, service };
}

/** Derived signing keys by secret, day, region and service: four HMACs each, the same all day. */
const signingKeys = new Map<string, Buffer>();
/** A handful of credentials x regions x services; past this the cache starts over. */
const SIGNING_KEYS_MAX = 256;

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}\u0000${region}\u0000${service}\u0000${secret}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    if (signingKeys.size >= SIGNING_KEYS_MAX) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** A header's value as signed: sequential spaces collapsed, trimmed; repeated headers joined by commas. */
function headerValue(v: string | string[] | undefined): string {
  const values = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return values.map((x) => x.trim().replace(/\s+/g, ' ')).join(',');
}

/** RFC 3986 encoding, as SigV4 wants it (unreserved characters kept). */
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The path as sent, encoded once more (every service but S3), segment by segment. */
function canonicalPath(path: string): string {
  if (path === '' || path === '/') return '/';
  return path.split('/').map((seg) => rfc3986(seg)).join('/');
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query.split('&').filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=');
    const k = decode(eq < 0 ? p : p.slice(0, eq));
    const v = eq < 0 ? '' : decode(p.slice(eq + 1));
    return [rfc3986(k), rfc3986(v)] as const;
  });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function compact(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
