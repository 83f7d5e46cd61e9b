// Vhosts and limits through real clients, against Wharf and (reference mode) the
// reference RabbitMQ: connection.open to an unknown vhost or one without
// permission, isolation (one queue name in two vhosts is two queues), deletion
// closing the vhost's connections with 320 and removing its queues, and the
// vhost and user limits with RabbitMQ's codes and texts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_OPTS, once } from '../../helpers/async.js';
import { assertRejectsWith, serverClose, type AmqpError } from '../../helpers/amqplib.js';
import { useTenancy, openRefusal } from '../../helpers/access.js';
import { enc, skipWithoutReferenceManagement, useManagement } from '../../helpers/management.js';

describe('vhosts and limits', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();
  const t = useTenancy(ctx);

  describe('connection.open', () => {
    it('an unknown vhost is 530 "vhost X not found"', TEST_OPTS, async () => {
      const u = await t.user('acc-open');
      const text = await openRefusal(t.url(u.name, u.password, 'acc-no-such-vhost'));
      assert.match(text, /NOT_ALLOWED - vhost acc-no-such-vhost not found/);
    });

    it('a vhost without permission is 530 "access to vhost ... refused"', TEST_OPTS, async () => {
      const u = await t.user('acc-open');
      const v = await t.vhost('acc-open');
      const text = await openRefusal(t.url(u.name, u.password, v));
      assert.match(text, new RegExp(`NOT_ALLOWED - access to vhost '${v}' refused for user '${u.name}'`));
    });

    it('a wrong password never opens', TEST_OPTS, async () => {
      const u = await t.user('acc-open');
      const v = await t.vhost('acc-open');
      await t.permit(v, u.name, '.*', '.*', '.*');
      await openRefusal(t.url(u.name, 'not-the-password', v));
      const ok = await ctx.clients.connect(undefined, t.url(u.name, u.password, v));
      await ok.close();
    });
  });

  describe('vhosts', () => {
    it('the same queue name in two vhosts is two queues', TEST_OPTS, async () => {
      const [a, b] = [await t.vhost('acc-iso'), await t.vhost('acc-iso')];
      const chA = await ctx.clients.channel(await ctx.clients.connect(undefined, t.url('guest', 'guest', a)));
      const chB = await ctx.clients.channel(await ctx.clients.connect(undefined, t.url('guest', 'guest', b)));
      await chA.assertQueue('same');
      await chB.assertQueue('same');
      chA.sendToQueue('same', Buffer.from('in a'));
      assert.equal((await chA.checkQueue('same')).messageCount, 1);
      assert.equal((await chB.checkQueue('same')).messageCount, 0);
    });

    it('deleting a vhost closes its connections with 320 and removes its queues', TEST_OPTS, async () => {
      const v = await t.vhost('acc-del');
      const conn = await ctx.clients.connect(undefined, t.url('guest', 'guest', v));
      const ch = await ctx.clients.channel(conn);
      await ch.assertQueue('doomed', { durable: true });
      ch.sendToQueue('doomed', Buffer.from('x'), { persistent: true });
      await ch.checkQueue('doomed');
      // amqplib reports 320 CONNECTION_FORCED as a 'close' with the error, not as an 'error'.
      const closed = once<[AmqpError]>(conn, 'close');
      assert.equal((await ctx.api.delete(`/api/vhosts/${enc(v)}`)).status, 204);
      const [err] = await closed;
      assert.equal(err.code, 320);
      assert.match(err.message, new RegExp(`CONNECTION_FORCED - vhost '${v}' is deleted`));
      assert.equal((await ctx.api.get(`/api/vhosts/${enc(v)}`)).status, 404);
      assert.equal((await ctx.api.put(`/api/vhosts/${enc(v)}`, {})).status, 201);
      const again = await ctx.clients.channel(await ctx.clients.connect(undefined, t.url('guest', 'guest', v)));
      await assertRejectsWith(again.checkQueue('doomed'), 404, `NOT_FOUND - no queue 'doomed' in vhost '${v}'`);
      assert.equal((await ctx.api.delete(`/api/vhosts/${enc(v)}`)).status, 204);
    });
  });

  describe('limits', () => {
    it('vhost max-connections: 530 at connection.open past it; 0 refuses all', TEST_OPTS, async () => {
      const u = await t.user('acc-lim');
      const v = await t.vhost('acc-lim');
      await t.permit(v, u.name, '.*', '.*', '.*');
      await t.vhostLimit(v, 'max-connections', 1);
      const first = await ctx.clients.connect(undefined, t.url(u.name, u.password, v));
      const text = await openRefusal(t.url(u.name, u.password, v));
      assert.match(text, new RegExp(`NOT_ALLOWED - access to vhost '${v}' refused for user '${u.name}': connection limit \\(1\\) is reached`));
      await first.close();
      await t.vhostLimit(v, 'max-connections', 0);
      assert.match(await openRefusal(t.url(u.name, u.password, v)), /connection limit \(0\) is reached/);
    });

    it('user max-connections: 530 at connection.open past it', TEST_OPTS, async () => {
      const u = await t.user('acc-lim');
      const v = await t.vhost('acc-lim');
      await t.permit(v, u.name, '.*', '.*', '.*');
      await t.userLimit(u.name, 'max-connections', 1);
      const first = await ctx.clients.connect(undefined, t.url(u.name, u.password, v));
      const text = await openRefusal(t.url(u.name, u.password, v));
      assert.match(text, new RegExp(`NOT_ALLOWED - connection refused for user '${u.name}': user connection limit \\(1\\) is reached`));
      await first.close();
      const again = await ctx.clients.connect(undefined, t.url(u.name, u.password, v));
      await again.close();
    });

    it('user max-channels: the channel.open past it closes the connection with 530', TEST_OPTS, async () => {
      const u = await t.user('acc-lim');
      const v = await t.vhost('acc-lim');
      await t.permit(v, u.name, '.*', '.*', '.*');
      await t.userLimit(u.name, 'max-channels', 1);
      const conn = await ctx.clients.connect(undefined, t.url(u.name, u.password, v));
      await ctx.clients.channel(conn);
      const closed = serverClose(conn);
      await conn.createChannel().catch(() => undefined);
      const err = await closed;
      assert.equal(err.code, 530);
      assert.match(err.message, new RegExp(`NOT_ALLOWED - number of channels opened for user '${u.name}' has reached the maximum allowed user limit of \\(1\\)`));
    });

    it('vhost max-queues: 406 on the declare past it; -1 lifts it', TEST_OPTS, async () => {
      const v = await t.vhost('acc-lim');
      await t.vhostLimit(v, 'max-queues', 1);
      const conn = await ctx.clients.connect(undefined, t.url('guest', 'guest', v));
      const ch = await ctx.clients.channel(conn);
      await ch.assertQueue('q1');
      await ch.assertQueue('q1'); // redeclaring an existing queue is fine
      await assertRejectsWith(
        (await ctx.clients.channel(conn)).assertQueue('q2'),
        406,
        `PRECONDITION_FAILED - cannot declare queue 'q2': queue limit in vhost '${v}' (1) is reached`,
      );
      await t.vhostLimit(v, 'max-queues', -1);
      await (await ctx.clients.channel(conn)).assertQueue('q2');
    });
  });
});
