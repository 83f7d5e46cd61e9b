// Signs raw AWS JSON 1.0 requests with SigV4 (header auth, unsigned payload hash
// left for the server to compute), for benchmarks that need many cheap requests
// in flight without an SDK per request: bench/sqs.ts's long polls.

import { createHash, createHmac } from 'node:crypto';

export interface SigningKey {
  readonly accessKey: string;
  readonly secret: string;
  readonly region: string;
  readonly service: string;
}

const JSON_TYPE = 'application/x-amz-json-1.0';

/** Headers for POST / to `host` with `target` (X-Amz-Target) and `body`, signed at `now`. */
export function signedJsonHeaders(key: SigningKey, host: string, target: string, body: string, now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const signedHeaders = 'content-type;host;x-amz-date;x-amz-target';
  const canonical = ['POST', '/', '', `content-type:${JSON_TYPE}\nhost:${host}\nx-amz-date:${amzDate}\nx-amz-target:${target}\n`, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${key.region}/${key.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`;
  let k = hmac(`AWS4${key.secret}`, date);
  k = hmac(k, key.region);
  k = hmac(k, key.service);
  k = hmac(k, 'aws4_request');
  const signature = hmac(k, toSign).toString('hex');
  return {
    'content-type': JSON_TYPE,
    host,
    'x-amz-date': amzDate,
    'x-amz-target': target,
    'content-length': String(Buffer.byteLength(body)),
    authorization: `AWS4-HMAC-SHA256 Credential=${key.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

const FORM_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';

/** Headers for a query-protocol POST / (a form body: Action=...&...) to `host`, signed at `now`. */
export function signedFormHeaders(key: SigningKey, host: string, body: string, now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const signedHeaders = 'content-type;host;x-amz-date';
  const canonical = ['POST', '/', '', `content-type:${FORM_TYPE}\nhost:${host}\nx-amz-date:${amzDate}\n`, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${key.region}/${key.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`;
  let k = hmac(`AWS4${key.secret}`, date);
  k = hmac(k, key.region);
  k = hmac(k, key.service);
  k = hmac(k, 'aws4_request');
  const signature = hmac(k, toSign).toString('hex');
  return {
    'content-type': FORM_TYPE,
    host,
    'x-amz-date': amzDate,
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
