// The access model's pure parts: RabbitMQ's password hash format (checked against
// the example in RabbitMQ's passwords guide), and grants that follow changes to
// the model made while a connection is open.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Access, MD5, SHA256, SHA512, hashPassword, openGrant, verifyPassword } from '../../../../src/broker/access/index.js';
import { BrokerError } from '../../../../src/broker/errors.js';

describe('password hashes', () => {
  it('verifies the example of RabbitMQ\'s passwords guide (salt 908DC60A, "test12")', () => {
    assert.equal(verifyPassword('test12', 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR', SHA256), true);
    assert.equal(verifyPassword('test13', 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR', SHA256), false);
  });

  it('round-trips in each algorithm with a fresh salt each time; an empty or short hash never matches', () => {
    for (const a of [SHA256, SHA512, MD5]) {
      const h = hashPassword('pässword', a);
      assert.notEqual(h, hashPassword('pässword', a));
      assert.equal(verifyPassword('pässword', h, a), true);
      assert.equal(verifyPassword('password', h, a), false);
    }
    assert.equal(verifyPassword('', '', SHA256), false);
    assert.equal(verifyPassword('x', 'AAAA', SHA256), false);
    assert.equal(verifyPassword('x', hashPassword('x'), 'rabbit_password_hashing_bogus'), false);
  });
});

describe('grants', () => {
  async function model(): Promise<{ access: Access; dir: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-access-unit-'));
    const { access } = await Access.open(join(dir, 'access.json'), []);
    return { access, dir };
  }

  it('a permission change applies to an open grant at its next check', async () => {
    const { access, dir } = await model();
    try {
      await access.putUser('u', { password: 'pw', tags: [] });
      await access.setPermission({ user: 'u', vhost: '/', configure: '', write: '^x$', read: '' });
      const g = openGrant(access, { user: 'u', vhost: '/', clientId: '' });
      g.publish('x', 'k', () => false);
      await access.setPermission({ user: 'u', vhost: '/', configure: '', write: '^y$', read: '' });
      assert.throws(() => g.publish('x', 'k', () => false), (e: unknown) => e instanceof BrokerError && e.kind === 'access-refused');
      g.publish('y', 'k', () => false);
      g.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts connections and channels against the limits until released', async () => {
    const { access, dir } = await model();
    try {
      await access.putUser('u', { password: 'pw', tags: [] });
      await access.setPermission({ user: 'u', vhost: '/', configure: '.*', write: '.*', read: '.*' });
      await access.setUserLimit('u', 'max-connections', 1);
      await access.setUserLimit('u', 'max-channels', 1);
      const g = openGrant(access, { user: 'u', vhost: '/', clientId: '' });
      assert.throws(() => openGrant(access, { user: 'u', vhost: '/', clientId: '' }), /user connection limit \(1\) is reached/);
      g.channelOpened();
      assert.throws(() => g.channelOpened(), /maximum allowed user limit of \(1\)/);
      g.release();
      const again = openGrant(access, { user: 'u', vhost: '/', clientId: '' });
      again.channelOpened();
      again.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('persists hashes only: the file never holds the password', async () => {
    const { access, dir } = await model();
    try {
      await access.putUser('u', { password: 'plain-secret-123', tags: ['management'] });
      const text = await readFile(join(dir, 'access.json'), 'utf8');
      assert.ok(!text.includes('plain-secret-123'));
      const reopened = (await Access.open(join(dir, 'access.json'), [])).access;
      assert.ok(reopened.authenticate('u', 'plain-secret-123', false));
      assert.equal(reopened.authenticate('guest', 'guest', false), undefined, 'guest is loopback-only');
      assert.ok(reopened.authenticate('guest', 'guest', true));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
