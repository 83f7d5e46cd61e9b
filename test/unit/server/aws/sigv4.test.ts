// SigV4 verification with cached signing keys: a key derived for one secret is never
// used for another, and days, regions and services each get their own.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signedJsonHeaders } from '../../../../bench/lib/sigv4-sign.js';
import { verifySignature, type Credential } from '../../../../src/server/aws/sigv4.js';

const NOW = new Date('2026-12-07T01:02:03Z');

function request(secret: string, region = 'us-east-1', service = 'sqs', now = NOW) {
  const body = '{"QueueName":"q"}';
  const headers = signedJsonHeaders({ accessKey: 'AK', secret, region, service }, 'localhost:4566', 'AmazonSQS.CreateQueue', body, now);
  return { method: 'POST', path: '/', query: '', headers, body: Buffer.from(body) };
}

const lookup = (secret: string) => (key: string): Credential | undefined => (key === 'AK' ? { accessKey: 'AK', secret } : undefined);
const code = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
};

test('a signature made with the right secret verifies, again and again (cached key)', () => {
  for (let i = 0; i < 3; i++) assert.deepEqual(verifySignature(request('s1'), lookup('s1'), NOW.getTime()), { accessKey: 'AK', region: 'us-east-1', service: 'sqs' });
});

test('a cached key of one secret never verifies another secret\'s requests', () => {
  assert.equal(code(() => verifySignature(request('s1'), lookup('s1'), NOW.getTime())), 'ok');
  // Same access key, day, region and service; the secret changed (a rotated key).
  assert.equal(code(() => verifySignature(request('s1'), lookup('s2'), NOW.getTime())), 'SignatureDoesNotMatch');
  assert.equal(code(() => verifySignature(request('s2'), lookup('s2'), NOW.getTime())), 'ok');
});

test('regions, services and days each have their own key', () => {
  assert.equal(code(() => verifySignature(request('s1', 'eu-west-1'), lookup('s1'), NOW.getTime())), 'ok');
  assert.equal(code(() => verifySignature(request('s1', 'us-east-1', 'sns'), lookup('s1'), NOW.getTime())), 'ok');
  const nextDay = new Date('2026-12-08T00:00:01Z');
  assert.equal(code(() => verifySignature(request('s1', 'us-east-1', 'sqs', nextDay), lookup('s1'), nextDay.getTime())), 'ok');
  // A request signed for one region and sent with another in its scope does not verify.
  const r = request('s1', 'eu-west-1');
  const auth = String(r.headers.authorization).replace('/eu-west-1/', '/us-east-1/');
  assert.equal(code(() => verifySignature({ ...r, headers: { ...r.headers, authorization: auth } }, lookup('s1'), NOW.getTime())), 'SignatureDoesNotMatch');
});
