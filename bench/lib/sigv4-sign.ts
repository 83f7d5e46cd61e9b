// Signs raw AWS requests with SigV4 (header auth), for benchmarks that need many cheap
// requests in flight without an SDK per request: AWS JSON 1.0 (bench/sqs.ts's long polls)
// and the query protocol's forms (bench/sns.ts).

import { createHash, createHmac } from 'node:crypto';

export interface SigningKey {
  readonly accessKey: string;
  readonly secret: string;
  readonly region: string;
  readonly service: string;
}

const JSON_TYPE = 'application/x-amz-json-1.0';
const FORM_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';

/** Headers for POST / to `host` with `target` (X-Amz-Target) and `body`, signed at `now`. */
export function signedJsonHeaders(key: SigningKey, host: string, target: string, body: string, now = new Date()): Record<string, string> {
  return signed(key, host, { 'content-type': JSON_TYPE, 'x-amz-target': target }, body, now);
}

/** Headers for a query-protocol POST / (a form body: Action=...&...) to `host`, signed at `now`. */
export function signedFormHeaders(key: SigningKey, host: string, body: string, now = new Date()): Record<string, string> {
  return signed(key, host, { 'content-type': FORM_TYPE }, body, now);
}

/** POST / with `extra` headers (lower-case names) and host and x-amz-date, all signed. */
function signed(key: SigningKey, host: string, extra: Record<string, string>, body: string, now: Date): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...extra, host, 'x-amz-date': amzDate };
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]}\n`).join('');
  const canonical = ['POST', '/', '', canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${key.region}/${key.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`;
  let k = hmac(`AWS4${key.secret}`, date);
  k = hmac(k, key.region);
  k = hmac(k, key.service);
  k = hmac(k, 'aws4_request');
  const signature = hmac(k, toSign).toString('hex');
  return {
    ...headers,
    'content-length': String(Buffer.byteLength(body)),
    authorization: `AWS4-HMAC-SHA256 Credential=${key.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}
