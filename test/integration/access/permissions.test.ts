// Permissions through amqplib, each rule allowed and refused, as RabbitMQ's
// access-control guide lists them ("How Permissions Work"): configure for
// declare/delete, write on the destination and read on the source for bindings,
// write on the exchange for publish, read on the queue for consume/get/purge,
// nothing for a passive declare. Every refusal is a 403 channel error with
// RabbitMQ's exact text, and the connection and its other channels go on.
// Run in reference mode too (see test/helpers/access.ts).

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import { TEST_OPTS } from '../../helpers/async.js';
import { assertRejectsWith, assertReply, serverClose } from '../../helpers/amqplib.js';
import { useTenancy } from '../../helpers/access.js';
import { skipWithoutReferenceManagement, useManagement } from '../../helpers/management.js';

const ACCESS_REFUSED = 403;

describe('permissions', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();
  const t = useTenancy(ctx);
  let vhost = '';
  let user = { name: '', password: '' };
  const refused = (kind: string, name: string): string =>
    `ACCESS_REFUSED - access to ${kind} '${name}' in vhost '${vhost}' refused for user '${user.name}'`;

  before(async () => {
    vhost = await t.vhost('acc-perm');
    user = await t.user('acc-perm');
    // configure: names starting "c"; write: "w" and the default exchange; read: "r" and "cr".
    await t.permit(vhost, user.name, '^c', '^w|^amq\\.default$', '^r|^cr');
    // Objects the user may not make, made by guest (full permissions as the vhost's creator).
    const admin = await amqpConnect(t.url('guest', 'guest', vhost));
    const ch = await admin.createChannel();
    for (const q of ['x-q', 'w-q', 'r-q', 'c-q']) await ch.assertQueue(q);
    for (const x of ['x-ex', 'w-ex', 'r-ex']) await ch.assertExchange(x, 'direct');
    await admin.close();
  });

  const connect = (): Promise<ChannelModel> => ctx.clients.connect(undefined, t.url(user.name, user.password, vhost));

  describe('declare and delete need configure', () => {
    it('queue.declare: allowed on a matching name, 403 otherwise; the connection goes on', TEST_OPTS, async () => {
      const conn = await connect();
      await assertRejectsWith((await ctx.clients.channel(conn)).assertQueue('x1'), ACCESS_REFUSED, refused('queue', 'x1'));
      const ch = await ctx.clients.channel(conn);
      assert.equal((await ch.assertQueue('c1', { autoDelete: true })).queue, 'c1');
    });

    it('a passive queue.declare or exchange.declare needs no permission', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel(await connect());
      assert.equal((await ch.checkQueue('x-q')).queue, 'x-q');
      await ch.checkExchange('x-ex');
    });

    it('a server-named queue is checked under its generated amq.gen- name', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel(await connect());
      await assertRejectsWith(
        ch.assertQueue('', { exclusive: true }),
        ACCESS_REFUSED,
        new RegExp(`^ACCESS_REFUSED - access to queue 'amq\\.gen-[\\w-]+' in vhost '${vhost}' refused for user '${user.name}'$`),
      );
    });

    it('exchange.declare: allowed on a matching name, 403 otherwise', TEST_OPTS, async () => {
      const conn = await connect();
      await assertRejectsWith((await ctx.clients.channel(conn)).assertExchange('x1', 'fanout'), ACCESS_REFUSED, refused('exchange', 'x1'));
      const ch = await ctx.clients.channel(conn);
      await ch.assertExchange('c-ex1', 'fanout', { autoDelete: true });
      await ch.deleteExchange('c-ex1');
    });

    it('queue.delete and exchange.delete: configure on the object', TEST_OPTS, async () => {
      const conn = await connect();
      await assertRejectsWith((await ctx.clients.channel(conn)).deleteQueue('x-q'), ACCESS_REFUSED, refused('queue', 'x-q'));
      await assertRejectsWith((await ctx.clients.channel(conn)).deleteExchange('x-ex'), ACCESS_REFUSED, refused('exchange', 'x-ex'));
      const ch = await ctx.clients.channel(conn);
      await ch.assertQueue('c-del');
      assert.equal((await ch.deleteQueue('c-del')).messageCount, 0);
    });

    it('a queue with a dead-letter exchange also needs read on the queue, then write on the exchange', TEST_OPTS, async () => {
      const conn = await connect();
      await assertRejectsWith(
        (await ctx.clients.channel(conn)).assertQueue('c-dlx', { deadLetterExchange: 'w-ex' }),
        ACCESS_REFUSED,
        refused('queue', 'c-dlx'),
      );
      await assertRejectsWith(
        (await ctx.clients.channel(conn)).assertQueue('cr-dlx', { deadLetterExchange: 'x-ex' }),
        ACCESS_REFUSED,
        refused('exchange', 'x-ex'),
      );
      const ch = await ctx.clients.channel(conn);
      await ch.assertQueue('cr-dlx2', { deadLetterExchange: 'w-ex', autoDelete: true });
    });

    it('a new exchange with an alternate exchange also needs read on itself, then write on the alternate', TEST_OPTS, async () => {
      const conn = await connect();
      await assertRejectsWith(
        (await ctx.clients.channel(conn)).assertExchange('c-ae', 'direct', { alternateExchange: 'w-ex' }),
        ACCESS_REFUSED,
        refused('exchange', 'c-ae'),
      );
      await assertRejectsWith(
        (await ctx.clients.channel(conn)).assertExchange('cr-ae', 'direct', { alternateExchange: 'x-ex' }),
        ACCESS_REFUSED,
        refused('exchange', 'x-ex'),
      );
      const ch = await ctx.clients.channel(conn);
      await ch.assertExchange('cr-ae2', 'direct', { alternateExchange: 'w-ex', autoDelete: true });
    });
  });

  describe('bindings: write on the destination, read on the source', () => {
    it('queue.bind and queue.unbind', TEST_OPTS, async () => {
      const conn = await connect();
      const ch = await ctx.clients.channel(conn);
      await ch.bindQueue('w-q', 'r-ex', 'k');
      await ch.unbindQueue('w-q', 'r-ex', 'k');
      await assertRejectsWith((await ctx.clients.channel(conn)).bindQueue('c-q', 'r-ex', 'k'), ACCESS_REFUSED, refused('queue', 'c-q'));
      await assertRejectsWith((await ctx.clients.channel(conn)).bindQueue('w-q', 'x-ex', 'k'), ACCESS_REFUSED, refused('exchange', 'x-ex'));
      await assertRejectsWith((await ctx.clients.channel(conn)).unbindQueue('w-q', 'x-ex', 'k'), ACCESS_REFUSED, refused('exchange', 'x-ex'));
    });

    it('exchange.bind and exchange.unbind', TEST_OPTS, async () => {
      const conn = await connect();
      const ch = await ctx.clients.channel(conn);
      await ch.bindExchange('w-ex', 'r-ex', 'k');
      await ch.unbindExchange('w-ex', 'r-ex', 'k');
      await assertRejectsWith((await ctx.clients.channel(conn)).bindExchange('x-ex', 'r-ex', 'k'), ACCESS_REFUSED, refused('exchange', 'x-ex'));
      await assertRejectsWith((await ctx.clients.channel(conn)).bindExchange('w-ex', 'x-ex', 'k'), ACCESS_REFUSED, refused('exchange', 'x-ex'));
    });
  });

  describe('messages', () => {
    it('basic.publish needs write on the exchange; the default exchange is "amq.default"', TEST_OPTS, async () => {
      const conn = await connect();
      const ok = await ctx.clients.confirmChannel(conn);
      ok.publish('w-ex', 'k', Buffer.from('a'));
      ok.sendToQueue('w-q', Buffer.from('b'));
      await ok.waitForConfirms();
      const ch = await ctx.clients.channel(conn);
      ch.publish('x-ex', 'k', Buffer.from('c'));
      assertReply(await serverClose(ch), ACCESS_REFUSED, refused('exchange', 'x-ex'));
    });

    it('publishing to the default exchange without write on amq.default is refused', TEST_OPTS, async () => {
      const other = await t.user('acc-perm-nodefault');
      await t.permit(vhost, other.name, '', '^w', '');
      const ch = await ctx.clients.channel(await ctx.clients.connect(undefined, t.url(other.name, other.password, vhost)));
      ch.sendToQueue('w-q', Buffer.from('x'));
      assertReply(
        await serverClose(ch),
        ACCESS_REFUSED,
        `ACCESS_REFUSED - access to exchange 'amq.default' in vhost '${vhost}' refused for user '${other.name}'`,
      );
    });

    it('basic.get, basic.consume and queue.purge need read on the queue', TEST_OPTS, async () => {
      const conn = await connect();
      const ch = await ctx.clients.channel(conn);
      assert.equal(await ch.get('r-q'), false);
      const { consumerTag } = await ch.consume('r-q', () => {});
      await ch.cancel(consumerTag);
      await ch.purgeQueue('r-q');
      await assertRejectsWith((await ctx.clients.channel(conn)).get('w-q'), ACCESS_REFUSED, refused('queue', 'w-q'));
      await assertRejectsWith((await ctx.clients.channel(conn)).consume('w-q', () => {}), ACCESS_REFUSED, refused('queue', 'w-q'));
      await assertRejectsWith((await ctx.clients.channel(conn)).purgeQueue('w-q'), ACCESS_REFUSED, refused('queue', 'w-q'));
    });
  });

  describe('topic permissions', () => {
    it('publish to a topic exchange checks the routing key against write, with {username} expanded', TEST_OPTS, async () => {
      const u = await t.user('acc-topic');
      await t.permit(vhost, u.name, '.*', '.*', '.*');
      await t.topicPermit(vhost, u.name, 'amq.topic', '^{username}\\.', '^{vhost}\\.');
      const conn = await ctx.clients.connect(undefined, t.url(u.name, u.password, vhost));
      const ok = await ctx.clients.confirmChannel(conn);
      ok.publish('amq.topic', `${u.name}.x`, Buffer.from('a'));
      await ok.waitForConfirms();
      const ch = await ctx.clients.channel(conn);
      ch.publish('amq.topic', 'zz', Buffer.from('b'));
      assertReply(
        await serverClose(ch),
        ACCESS_REFUSED,
        `ACCESS_REFUSED - access to topic 'zz' in exchange 'amq.topic' in vhost '${vhost}' refused for user '${u.name}'`,
      );
      // Exchanges without a topic permission are open to every key.
      const direct = await ctx.clients.confirmChannel(conn);
      direct.publish('amq.direct', 'zz', Buffer.from('c'));
      await direct.waitForConfirms();
    });

    it('binding to a topic exchange checks the routing key against read, with {vhost} expanded', TEST_OPTS, async () => {
      const u = await t.user('acc-topic');
      await t.permit(vhost, u.name, '.*', '.*', '.*');
      await t.topicPermit(vhost, u.name, 'amq.topic', '.*', '^{vhost}\\.');
      const conn = await ctx.clients.connect(undefined, t.url(u.name, u.password, vhost));
      const ch = await ctx.clients.channel(conn);
      const q = `topic-q-${u.name}`;
      await ch.assertQueue(q, { autoDelete: true });
      await ch.bindQueue(q, 'amq.topic', `${vhost}.a`);
      await assertRejectsWith(
        (await ctx.clients.channel(conn)).bindQueue(q, 'amq.topic', 'zz'),
        ACCESS_REFUSED,
        `ACCESS_REFUSED - access to topic 'zz' in exchange 'amq.topic' in vhost '${vhost}' refused for user '${u.name}'`,
      );
    });
  });
});
