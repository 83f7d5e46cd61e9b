// The policy rules on their own: validation texts, which policy an object gets,
// merging with operator policies and precedence against queue arguments per
// queue type (RabbitMQ 3.10's rabbit_policy, rabbit_policies, rabbit_amqqueue_process
// and rabbit_quorum_queue). The integration suite checks the same through the API.

import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PolicyValidationError, maxAgeMs, validatePolicy, type PolicyDef, type PolicyKind } from '../../../../src/broker/policy/definition.js';
import { effectiveQueueConfig, mergeDefinitions } from '../../../../src/broker/policy/effective.js';
import { PolicyStore } from '../../../../src/broker/policy/policy-store.js';
import { parseQueueArgs } from '../../../../src/broker/queue/args.js';

function reason(kind: PolicyKind, input: Record<string, unknown>): string {
  try {
    validatePolicy(kind, { vhost: '/', name: 'p', pattern: '.*', applyTo: undefined, definition: undefined, priority: undefined, ...input });
  } catch (err) {
    assert.ok(err instanceof PolicyValidationError);
    return err.reason;
  }
  return 'valid';
}

function def(name: string, pattern: string, definition: Record<string, unknown>, priority = 0, applyTo: PolicyDef['apply-to'] = 'all'): PolicyDef {
  return { vhost: '/', name, pattern, 'apply-to': applyTo, definition, priority };
}

describe('policy validation', () => {
  it('gives RabbitMQ\'s texts, known keys first and unknown keys together, sorted', () => {
    assert.equal(reason('policy', { definition: { 'max-length': 'x' } }), '<<"x">> is not a valid maximum length');
    assert.equal(reason('policy', { definition: { 'max-length': 1.5 } }), '1.5 is not a valid maximum length');
    assert.equal(reason('policy', { definition: { 'max-length': true } }), 'true is not a valid maximum length');
    assert.equal(reason('policy', { definition: { zed: 1, 'message-ttl': -1, abc: 'x' } }), '-1 is not a valid message TTL');
    assert.equal(reason('policy', { definition: { zed: 1, abc: 'x' } }), '[{<<"abc">>,<<"x">>},{<<"zed">>,1}] are not recognised policy settings');
    assert.equal(reason('policy', { definition: {} }), 'no policy provided');
    assert.equal(reason('policy', { definition: { 'max-age': '2x' } }), '<<"2x">> is not a valid max age');
    assert.equal(reason('policy', { definition: { 'stream-max-segment-size-bytes': 3_000_000_001 } }), '3000000001 is not a valid segment size');
    assert.equal(reason('policy', { priority: '1', definition: { 'max-length': 1 } }), 'priority should be a number, actually was <<"1">>');
    assert.equal(reason('policy', { pattern: 1, definition: { 'max-length': 1 } }), 'pattern should be a binary but was 1');
    assert.equal(reason('operator', { definition: { overflow: 'drop-head' } }), '[{<<"overflow">>,<<"drop-head">>}] are not recognised policy settings');
    assert.equal(reason('policy', { definition: { 'ha-mode': 'all', 'queue-mode': 'lazy', 'consumer-timeout': 5 } }), 'valid');
  });

  it('defaults apply-to and priority, and sorts the definition\'s keys', () => {
    const p = validatePolicy('policy', { vhost: 'v', name: 'n', pattern: '^a', applyTo: undefined, priority: undefined, definition: { 'max-length': 1, expires: 5 } });
    assert.deepEqual(p, { vhost: 'v', name: 'n', pattern: '^a', 'apply-to': 'all', definition: { expires: 5, 'max-length': 1 }, priority: 0 });
    assert.deepEqual(Object.keys(p.definition), ['expires', 'max-length']);
  });

  it('reads max-age in RabbitMQ\'s units', () => {
    assert.equal(maxAgeMs('2D'), 2 * 86_400_000);
    assert.equal(maxAgeMs('90s'), 90_000);
    assert.equal(maxAgeMs('1d'), undefined);
    assert.equal(maxAgeMs(60), undefined);
  });
});

describe('policy matching', () => {
  it('picks the highest priority, ties by name, by apply-to and queue type, and persists the set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-policies-'));
    const path = join(dir, 'policies.json');
    const store = await PolicyStore.open(path);
    await store.put('policy', def('b-low', '^orders', { 'max-length': 5 }, 1));
    await store.put('policy', def('c-high', '^orders\\.', { 'max-length': 2 }, 3));
    await store.put('policy', def('a-high', '^orders\\.', { 'max-length': 3 }, 3));
    await store.put('policy', def('x-only', '^orders', { 'alternate-exchange': 'ae' }, 9, 'exchanges'));
    await store.put('policy', def('lazy', '^orders', { 'queue-mode': 'lazy' }, 8));
    const classic = { kind: 'queue', queueType: 'classic', name: 'orders.new' } as const;
    assert.equal(store.match('policy', '/', classic)?.name, 'lazy');
    // queue-mode is not a quorum queue setting: that policy skips quorum queues.
    assert.equal(store.match('policy', '/', { ...classic, queueType: 'quorum' })?.name, 'a-high');
    assert.equal(store.match('policy', '/', { kind: 'exchange', name: 'orders.x' })?.name, 'x-only');
    assert.equal(store.match('policy', 'other', classic), undefined);
    assert.equal(store.match('operator', '/', classic), undefined);
    assert.equal(await store.delete('policy', '/', 'lazy'), true);
    assert.equal(await store.delete('policy', '/', 'lazy'), false);
    const reopened = await PolicyStore.open(path);
    assert.deepEqual(reopened.list('policy').map((p) => p.name), ['a-high', 'b-low', 'c-high', 'x-only']);
    const file = JSON.parse(await readFile(path, 'utf8')) as { policies: PolicyDef[]; operator_policies: PolicyDef[] };
    assert.deepEqual(file.policies[0], def('a-high', '^orders\\.', { 'max-length': 3 }, 3));
    assert.deepEqual(file.operator_policies, []);
  });
});

describe('effective settings', () => {
  const where = { queue: 'q', vhost: '/' };
  const classic = (args: Record<string, unknown>) => parseQueueArgs(args, where, { durable: true, exclusive: false });
  const quorum = (args: Record<string, unknown>) => classic({ ...args, 'x-queue-type': 'quorum' });

  it('merges policy and operator policy, the lower value for limits', () => {
    assert.deepEqual(mergeDefinitions({ 'max-length': 10, 'dead-letter-exchange': 'd' }, { 'max-length': 3, expires: 100 }), {
      'dead-letter-exchange': 'd',
      expires: 100,
      'max-length': 3,
    });
  });

  it('classic queues: the lower for limits and TTLs, the argument for dead-lettering and overflow', () => {
    const args = { 'x-max-length': 5, 'x-message-ttl': 100, 'x-dead-letter-exchange': 'arg-dlx', 'x-overflow': 'reject-publish', 'x-expires': 1000 };
    const c = effectiveQueueConfig(classic(args), args, {
      'max-length': 10, 'message-ttl': 50, 'dead-letter-exchange': 'pol-dlx', 'dead-letter-routing-key': 'rk', overflow: 'drop-head', expires: 500, 'delivery-limit': 2,
    });
    assert.equal(c.maxLength, 5);
    assert.equal(c.messageTtl, 50);
    assert.equal(c.expires, 500);
    assert.equal(c.deadLetterExchange, 'arg-dlx');
    assert.equal(c.deadLetterRoutingKey, 'rk');
    assert.equal(c.overflow, 'reject-publish');
    assert.equal(c.deliveryLimit, 2);
    // Without arguments the policy's values are taken as they are.
    const bare = effectiveQueueConfig(classic({}), {}, { overflow: 'reject-publish-dlx', 'dead-letter-exchange': 'pol-dlx' });
    assert.equal(bare.overflow, 'reject-publish-dlx');
    assert.equal(bare.deadLetterExchange, 'pol-dlx');
  });

  it('quorum queues: the policy for overflow and expires', () => {
    const args = { 'x-overflow': 'reject-publish', 'x-expires': 1000, 'x-delivery-limit': 4 };
    const c = effectiveQueueConfig(quorum(args), args, { overflow: 'drop-head', expires: 5000, 'delivery-limit': 9 });
    assert.equal(c.overflow, 'drop-head');
    assert.equal(c.expires, 5000);
    assert.equal(c.deliveryLimit, 4);
  });

  it('an empty definition leaves the declared settings as they are', () => {
    const declared = classic({ 'x-max-length': 1 });
    assert.equal(effectiveQueueConfig(declared, { 'x-max-length': 1 }, {}), declared);
  });
});
