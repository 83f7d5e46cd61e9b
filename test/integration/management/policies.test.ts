// Policies and operator policies: the management API routes (codes, bodies,
// RabbitMQ's validation texts) and their effect on queues and exchanges seen
// through amqplib: length limits applied to queues that already hold messages,
// message TTL, dead-lettering, alternate exchanges, queue expiry, priorities,
// precedence between arguments, policies and operator policies, and restarts.
// One body for both modes: in reference mode the policies go to RabbitMQ's
// management API (WHARF_TEST_REFERENCE_MANAGEMENT_URL) and the AMQP side to its
// broker, which applies a policy asynchronously, so effects are polled for.

import type { Channel, ChannelModel } from 'amqplib';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { afterEach, describe, it } from 'node:test';
import { TEST_OPTS, uniqueName, waitUntil } from '../../helpers/async.js';
import { assertReply, serverClose } from '../../helpers/amqplib.js';
import { makeDataDir, skipUnderReference, spawnBroker } from '../../helpers/broker.js';
import { ManagementApi, enc, skipWithoutReferenceManagement, useManagement, type HttpReply } from '../../helpers/management.js';

type Json = Record<string, unknown>;
type Kind = 'policies' | 'operator-policies';

/** RabbitMQ's statistics database refreshes every 5 s: fields of a queue's JSON can take that long. */
const STATS_WAIT_MS = 20_000;
const OPTS = { timeout: 60_000 } as const;

describe('policies', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();
  const made: [Kind, string][] = [];
  /** One connection per test for polling queue depths. */
  let probe: ChannelModel | undefined;

  afterEach(async () => {
    probe = undefined;
    for (const [kind, name] of made.splice(0)) await ctx.api.delete(`/api/${kind}/%2F/${enc(name)}`);
  });

  /** PUTs a policy on vhost / (deleted after the test) and checks the reply is 201 or 204. */
  async function setPolicy(kind: Kind, name: string, body: Json): Promise<HttpReply> {
    made.push([kind, name]);
    const r = await ctx.api.put(`/api/${kind}/%2F/${enc(name)}`, body);
    assert.ok(r.status === 201 || r.status === 204, `PUT ${kind}/${name}: ${r.status} ${r.text}`);
    return r;
  }

  async function messageCount(q: string): Promise<number> {
    probe ??= await ctx.clients.connect();
    const ch = await ctx.clients.channel(probe);
    try {
      return (await ch.checkQueue(q)).messageCount;
    } finally {
      await ch.close();
    }
  }

  async function untilCount(q: string, n: number): Promise<void> {
    let last = -1;
    // A shared reference broker under load can take a while to apply a policy.
    await waitUntil(async () => (last = await messageCount(q)) === n, `queue ${q} holds ${n} messages (last: ${last})`, STATS_WAIT_MS);
  }

  async function queueJson(q: string, ok: (j: Json) => boolean): Promise<Json> {
    let last: Json = {};
    await waitUntil(
      async () => {
        const r = await ctx.api.get(`/api/queues/%2F/${enc(q)}`);
        if (r.status !== 200) return false;
        last = r.json<Json>();
        return ok(last);
      },
      `queue ${q} JSON (last: ${JSON.stringify(last)})`,
      STATS_WAIT_MS,
    );
    return last;
  }

  describe('management routes', () => {
    it('PUT answers 201 then 204, GET shows the policy in definitions form, DELETE 204 then 404', TEST_OPTS, async () => {
      const name = uniqueName('pol-crud');
      const body = { pattern: `^${name}$`, definition: { 'max-length': 3 }, priority: 2, 'apply-to': 'queues' };
      made.push(['policies', name]);
      assert.equal((await ctx.api.put(`/api/policies/%2F/${name}`, body)).status, 201);
      const expected = { vhost: '/', name, pattern: `^${name}$`, 'apply-to': 'queues', definition: { 'max-length': 3 }, priority: 2 };
      assert.deepEqual(await ctx.api.getJson(`/api/policies/%2F/${name}`), expected);
      const updated = { ...body, definition: { 'max-length': 4 } };
      assert.equal((await ctx.api.put(`/api/policies/%2F/${name}`, updated)).status, 204);
      assert.deepEqual(await ctx.api.getJson(`/api/policies/%2F/${name}`), { ...expected, definition: { 'max-length': 4 } });
      const inVhost = await ctx.api.getJson<Json[]>('/api/policies/%2F');
      assert.deepEqual(inVhost.find((p) => p.name === name), { ...expected, definition: { 'max-length': 4 } });
      assert.ok((await ctx.api.getJson<Json[]>('/api/policies')).some((p) => p.name === name));
      assert.equal((await ctx.api.delete(`/api/policies/%2F/${name}`)).status, 204);
      const gone = await ctx.api.delete(`/api/policies/%2F/${name}`);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.json(), { error: 'Object Not Found', reason: 'Not Found' });
      assert.equal((await ctx.api.get(`/api/policies/%2F/${name}`)).status, 404);
    });

    it('defaults apply-to to all and priority to 0; an unknown vhost is 404', TEST_OPTS, async () => {
      const name = uniqueName('pol-defaults');
      await setPolicy('operator-policies', name, { pattern: `^${name}$`, definition: { 'message-ttl': 1000 } });
      assert.deepEqual(await ctx.api.getJson(`/api/operator-policies/%2F/${name}`), {
        vhost: '/', name, pattern: `^${name}$`, 'apply-to': 'all', definition: { 'message-ttl': 1000 }, priority: 0,
      });
      const noVhost = await ctx.api.put(`/api/policies/${uniqueName('no-vhost')}/x`, { pattern: '.*', definition: { 'max-length': 1 } });
      assert.equal(noVhost.status, 404);
      assert.deepEqual(noVhost.json(), { error: 'not_found', reason: 'vhost_not_found' });
      assert.equal((await ctx.api.get(`/api/policies/${uniqueName('no-vhost')}`)).status, 404);
    });

    it('refuses invalid policies with RabbitMQ\'s reasons', TEST_OPTS, async () => {
      const name = uniqueName('pol-bad');
      made.push(['policies', name], ['operator-policies', name]);
      const cases: [Kind, Json, string][] = [
        ['policies', { definition: { 'max-length': 1 } }, '[{key_missing,pattern}]'],
        ['policies', { pattern: 'x' }, '[{key_missing,definition}]'],
        ['policies', { pattern: 'x', definition: {} }, 'Validation failed\n\nno policy provided\n'],
        ['policies', { pattern: 'x', definition: { 'max-length': 'x' } }, 'Validation failed\n\n&lt;&lt;"x"&gt;&gt; is not a valid maximum length\n'],
        ['policies', { pattern: 'x', definition: { 'max-length': -1 } }, 'Validation failed\n\n-1 is not a valid maximum length\n'],
        ['policies', { pattern: 'x', definition: { 'message-ttl': 1.5 } }, 'Validation failed\n\n1.5 is not a valid message TTL\n'],
        ['policies', { pattern: 'x', definition: { expires: 0 } }, 'Validation failed\n\n0 is not a valid queue expiry\n'],
        ['policies', { pattern: 'x', definition: { overflow: 'x' } }, 'Validation failed\n\n&lt;&lt;"x"&gt;&gt; is not a valid overflow value\n'],
        ['policies', { pattern: 'x', definition: { 'dead-letter-exchange': 1 } }, 'Validation failed\n\n1 is not a valid dead letter exchange name\n'],
        ['policies', { pattern: 'x', definition: { 'delivery-limit': -1 } }, 'Validation failed\n\n-1 is not a valid delivery limit\n'],
        ['policies', { pattern: 'x', definition: { 'queue-mode': 'x' } }, 'Validation failed\n\n&lt;&lt;"x"&gt;&gt; is not a valid queue-mode value\n'],
        [
          'policies',
          { pattern: 'x', definition: { foo: 1, bar: 'b' } },
          'Validation failed\n\n[{&lt;&lt;"bar"&gt;&gt;,&lt;&lt;"b"&gt;&gt;},{&lt;&lt;"foo"&gt;&gt;,1}] are not recognised policy settings\n',
        ],
        ['policies', { pattern: 'x', priority: 'a', definition: { 'max-length': 1 } }, 'Validation failed\n\npriority should be a number, actually was &lt;&lt;"a"&gt;&gt;\n'],
        ['policies', { pattern: 1, definition: { 'max-length': 1 } }, 'Validation failed\n\npattern should be a binary but was 1\n'],
        [
          'operator-policies',
          { pattern: 'x', definition: { 'dead-letter-exchange': 'dlx' } },
          'Validation failed\n\n[{<<"dead-letter-exchange">>,<<"dlx">>}] are not recognised policy settings\n',
        ],
        ['operator-policies', { pattern: 'x', definition: { 'max-length': 'x' } }, 'Validation failed\n\n<<"x">> is not a valid maximum length\n'],
      ];
      for (const [kind, body, reason] of cases) {
        const r = await ctx.api.put(`/api/${kind}/%2F/${name}`, body);
        assert.equal(r.status, 400, `${kind} ${JSON.stringify(body)}: ${r.text}`);
        assert.deepEqual(r.json(), { error: 'bad_request', reason }, `${kind} ${JSON.stringify(body)}`);
      }
      for (const [body, prefix] of [
        [{ pattern: 'x', 'apply-to': 'foo', definition: { 'max-length': 1 } }, "Validation failed\n\napply-to 'foo' unrecognised; should be 'queues', 'exchanges' or 'all'"],
        [{ pattern: '(', definition: { 'max-length': 1 } }, 'Validation failed\n\npattern should be regular expression but is invalid: '],
      ] as const) {
        const r = await ctx.api.put(`/api/policies/%2F/${name}`, body);
        assert.equal(r.status, 400);
        assert.ok(r.json<Json>().reason?.toString().startsWith(prefix), r.text);
      }
      assert.equal((await ctx.api.get(`/api/policies/%2F/${name}`)).status, 404);
    });
  });

  describe('applied to queues', () => {
    it('a max-length policy set on a queue holding 10 messages drops it to the limit, and clearing it lifts the limit', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-maxlen'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: false });
      for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
      await untilCount(q, 10);
      const name = uniqueName('pol-maxlen');
      await setPolicy('policies', name, { pattern: `^${q}$`, definition: { 'max-length': 1 }, 'apply-to': 'queues' });
      await untilCount(q, 1);
      // drop-head: the newest stays.
      const got = await ch.get(q, { noAck: true });
      assert.ok(got);
      assert.equal(got.content.toString(), 'm9');
      const j = await queueJson(q, (x) => x.policy === name);
      assert.deepEqual(j.effective_policy_definition, { 'max-length': 1 });
      assert.equal(j.operator_policy, null);
      assert.equal((await ctx.api.delete(`/api/policies/%2F/${name}`)).status, 204);
      await queueJson(q, (x) => x.policy === null);
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from('again'));
      await untilCount(q, 3);
    });

    it('the lower of x-max-length, policy and operator policy wins, and the management API shows the merged definition', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-prec'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 5 } });
      const pol = uniqueName('pol-prec');
      await setPolicy('policies', pol, { pattern: `^${q}$`, definition: { 'max-length': 10, 'message-ttl': 600_000 } });
      for (let i = 0; i < 8; i++) ch.sendToQueue(q, Buffer.from('x'));
      // The argument (5) is lower than the policy (10).
      await untilCount(q, 5);
      const op = uniqueName('pol-prec-op');
      await setPolicy('operator-policies', op, { pattern: `^${q}$`, definition: { 'max-length': 3, 'message-ttl': 900_000 } });
      // The operator policy (3) is lower still: applied to the messages already there.
      await untilCount(q, 3);
      const j = await queueJson(q, (x) => x.operator_policy === op);
      assert.equal(j.policy, pol);
      // Policy and operator policy merged key by key, the lower value for each (arguments not included).
      assert.deepEqual(j.effective_policy_definition, { 'max-length': 3, 'message-ttl': 600_000 });
      assert.deepEqual(j.arguments, { 'x-max-length': 5 });
    });

    it('of two matching policies the higher priority wins', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-prio'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: false });
      const low = uniqueName('pol-low');
      const high = uniqueName('pol-high');
      await setPolicy('policies', low, { pattern: `^${q}$`, definition: { 'max-length': 4 }, priority: 1 });
      await setPolicy('policies', high, { pattern: '^pol-prio-', definition: { 'max-length': 2 }, priority: 5 });
      for (let i = 0; i < 6; i++) ch.sendToQueue(q, Buffer.from('x'));
      await untilCount(q, 2);
      await queueJson(q, (x) => x.policy === high);
    });

    it('a message-ttl policy expires messages published after it', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-ttl'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: false });
      await setPolicy('policies', uniqueName('pol-ttl'), { pattern: `^${q}$`, definition: { 'message-ttl': 50 } });
      await queueJson(q, (x) => ((x.effective_policy_definition ?? {}) as Json)['message-ttl'] === 50);
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from('x'));
      await untilCount(q, 0);
    });

    it('a dead-letter-exchange policy routes rejected messages; the queue argument wins over it', OPTS, async () => {
      const ch = await ctx.clients.channel();
      const dlx = ctx.clients.deleteExchangeLater(uniqueName('pol-dlx'));
      const argDlx = ctx.clients.deleteExchangeLater(uniqueName('pol-argdlx'));
      const dlq = ctx.clients.deleteLater(uniqueName('pol-dlq'));
      const argDlq = ctx.clients.deleteLater(uniqueName('pol-argdlq'));
      await ch.assertExchange(dlx, 'fanout', { durable: false });
      await ch.assertExchange(argDlx, 'fanout', { durable: false });
      await ch.assertQueue(dlq, { durable: false });
      await ch.assertQueue(argDlq, { durable: false });
      await ch.bindQueue(dlq, dlx, '');
      await ch.bindQueue(argDlq, argDlx, '');
      const plain = ctx.clients.deleteLater(uniqueName('pol-dl-src'));
      const withArg = ctx.clients.deleteLater(uniqueName('pol-dl-src'));
      await ch.assertQueue(plain, { durable: false });
      await ch.assertQueue(withArg, { durable: false, arguments: { 'x-dead-letter-exchange': argDlx } });
      await setPolicy('policies', uniqueName('pol-dl'), { pattern: '^pol-dl-src-', definition: { 'dead-letter-exchange': dlx } });
      await queueJson(plain, (x) => ((x.effective_policy_definition ?? {}) as Json)['dead-letter-exchange'] === dlx);
      await queueJson(withArg, (x) => ((x.effective_policy_definition ?? {}) as Json)['dead-letter-exchange'] === dlx);
      for (const q of [plain, withArg]) {
        ch.sendToQueue(q, Buffer.from(q));
        let m: Awaited<ReturnType<typeof ch.get>> = false;
        await waitUntil(async () => (m = await ch.get(q)) !== false, `a message in ${q}`);
        if (m) ch.reject(m, false);
      }
      await untilCount(dlq, 1);
      await untilCount(argDlq, 1);
      const viaPolicy = await ch.get(dlq, { noAck: true });
      assert.ok(viaPolicy);
      assert.equal(viaPolicy.content.toString(), plain);
    });

    it('overflow: the argument wins on a classic queue, the policy on a quorum queue', OPTS, async () => {
      const ch = await ctx.clients.channel();
      const args = { 'x-max-length': 1, 'x-overflow': 'reject-publish' };
      const classic = ctx.clients.deleteLater(uniqueName('pol-ovf-classic'));
      const quorum = ctx.clients.deleteLater(uniqueName('pol-ovf-quorum'));
      await ch.assertQueue(classic, { durable: true, arguments: args });
      await ch.assertQueue(quorum, { durable: true, arguments: { ...args, 'x-queue-type': 'quorum' } });
      await setPolicy('policies', uniqueName('pol-ovf'), { pattern: '^pol-ovf-', definition: { overflow: 'drop-head' } });
      await queueJson(classic, (x) => ((x.effective_policy_definition ?? {}) as Json).overflow === 'drop-head');
      await queueJson(quorum, (x) => ((x.effective_policy_definition ?? {}) as Json).overflow === 'drop-head');
      for (const q of [classic, quorum]) {
        ch.sendToQueue(q, Buffer.from('first'));
        await untilCount(q, 1);
        ch.sendToQueue(q, Buffer.from('second'));
      }
      // reject-publish (the argument) refused 'second'; drop-head (the policy) dropped 'first'.
      await waitUntil(async () => (await peek(ch, classic)) === 'first', 'classic queue holds first');
      await waitUntil(async () => (await peek(ch, quorum)) === 'second', 'quorum queue holds second');
      assert.equal(await messageCount(classic), 1);
      assert.equal(await messageCount(quorum), 1);
    });

    it('a delivery-limit policy on a quorum queue dead-letters a message returned too often', OPTS, async () => {
      const ch = await ctx.clients.channel();
      const dlq = ctx.clients.deleteLater(uniqueName('pol-dlim-dlq'));
      const q = ctx.clients.deleteLater(uniqueName('pol-dlim'));
      await ch.assertQueue(dlq, { durable: false });
      await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq } });
      await setPolicy('policies', uniqueName('pol-dlim'), { pattern: `^${q}$`, definition: { 'delivery-limit': 1 }, 'apply-to': 'queues' });
      await queueJson(q, (x) => ((x.effective_policy_definition ?? {}) as Json)['delivery-limit'] === 1);
      ch.sendToQueue(q, Buffer.from('bounce'));
      // Returned twice: past a limit of 1 the second return dead-letters it.
      for (let i = 0; i < 2; i++) {
        let m: Awaited<ReturnType<typeof ch.get>> = false;
        await waitUntil(async () => (m = await ch.get(q)) !== false, `delivery ${i + 1} from ${q}`);
        if (m) ch.nack(m, false, true);
      }
      await untilCount(dlq, 1);
      await untilCount(q, 0);
    });

    it('a consumer-timeout policy closes the channel of a consumer that does not ack in time', { ...OPTS, skip: skipUnderReference }, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-ctimeout'));
      const setup = await ctx.clients.channel();
      await setup.assertQueue(q, { durable: false });
      await setPolicy('policies', uniqueName('pol-ctimeout'), { pattern: `^${q}$`, definition: { 'consumer-timeout': 200 } });
      const ch = await ctx.clients.channel();
      const closed = serverClose(ch);
      await ch.consume(q, () => undefined, { noAck: false });
      setup.sendToQueue(q, Buffer.from('never acked'));
      assertReply(await closed, 406, /delivery acknowledgement on channel \d+ timed out\. Timeout value used: 200 ms/);
    });

    it('an expires policy deletes the unused queue', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-exp'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: false });
      await setPolicy('policies', uniqueName('pol-exp'), { pattern: `^${q}$`, definition: { expires: 200 } });
      await waitUntil(async () => (await ctx.api.get(`/api/queues/%2F/${enc(q)}`)).status === 404, `queue ${q} expired`, STATS_WAIT_MS);
      const probe = await ctx.clients.channel();
      await assert.rejects(probe.checkQueue(q), /404/);
    });

    it('a policy for exchanges only leaves queues alone', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-only-x'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: false });
      const name = uniqueName('pol-only-x');
      await setPolicy('policies', name, { pattern: `^${q}$`, definition: { 'max-length': 1 }, 'apply-to': 'exchanges' });
      const marker = uniqueName('pol-only-q');
      await setPolicy('policies', marker, { pattern: `^${q}$`, definition: { 'max-length': 4 }, 'apply-to': 'queues', priority: -1 });
      await queueJson(q, (x) => x.policy === marker);
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from('x'));
      await untilCount(q, 3);
    });
  });

  describe('applied to stream queues', () => {
    it('a stream queue gets a policy of stream keys, never one with keys streams refuse', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('pol-stream'));
      const ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': 50_000_000 } });
      const streamKeys = uniqueName('pol-stream-ok');
      const refused = uniqueName('pol-stream-refused');
      await setPolicy('policies', streamKeys, { pattern: `^${q}$`, definition: { 'max-length-bytes': 10_000_000, 'stream-max-segment-size-bytes': 1_000_000 } });
      // Higher priority, but max-length is not a stream setting: the policy does not apply to streams at all.
      await setPolicy('policies', refused, { pattern: `^${q}$`, definition: { 'max-length': 1, 'max-length-bytes': 1 }, priority: 9 });
      const j = await queueJson(q, (x) => x.policy === streamKeys);
      assert.deepEqual(j.effective_policy_definition, { 'max-length-bytes': 10_000_000, 'stream-max-segment-size-bytes': 1_000_000 });
    });
  });

  describe('applied to exchanges', () => {
    it('an alternate-exchange policy takes unroutable messages; the exchange\'s argument wins over it', OPTS, async () => {
      const ch = await ctx.clients.channel();
      const ae = ctx.clients.deleteExchangeLater(uniqueName('pol-ae'));
      const argAe = ctx.clients.deleteExchangeLater(uniqueName('pol-argae'));
      const aeq = ctx.clients.deleteLater(uniqueName('pol-aeq'));
      const argAeq = ctx.clients.deleteLater(uniqueName('pol-argaeq'));
      await ch.assertExchange(ae, 'fanout', { durable: false });
      await ch.assertExchange(argAe, 'fanout', { durable: false });
      await ch.assertQueue(aeq, { durable: false });
      await ch.assertQueue(argAeq, { durable: false });
      await ch.bindQueue(aeq, ae, '');
      await ch.bindQueue(argAeq, argAe, '');
      const plain = ctx.clients.deleteExchangeLater(uniqueName('pol-ae-src'));
      const withArg = ctx.clients.deleteExchangeLater(uniqueName('pol-ae-src'));
      await ch.assertExchange(plain, 'direct', { durable: false });
      await ch.assertExchange(withArg, 'direct', { durable: false, alternateExchange: argAe });
      const name = uniqueName('pol-ae');
      await setPolicy('policies', name, { pattern: '^pol-ae-src-', definition: { 'alternate-exchange': ae }, 'apply-to': 'exchanges' });
      await waitUntil(async () => (await ctx.api.getJson<Json>(`/api/exchanges/%2F/${enc(plain)}`)).policy === name, 'exchange policy', STATS_WAIT_MS);
      // RabbitMQ applies the policy asynchronously: publish until one arrives.
      await waitUntil(async () => {
        ch.publish(plain, 'nowhere', Buffer.from(plain));
        return (await messageCount(aeq)) > 0;
      }, 'an unroutable message in the policy\'s alternate exchange');
      ch.publish(withArg, 'nowhere', Buffer.from(withArg));
      await untilCount(argAeq, 1);
    });
  });

  describe('persistence', () => {
    it('policies survive a restart and apply to recovered durable queues', { ...OPTS, skip: skipUnderReference }, async () => {
      // Registered for deletion only after the restart, which closes (and cleans up after) the test's clients.
      const q = uniqueName('pol-restart');
      let ch = await ctx.clients.channel();
      await ch.assertQueue(q, { durable: true });
      const pol = uniqueName('pol-restart');
      const op = uniqueName('pol-restart-op');
      await setPolicy('policies', pol, { pattern: `^${q}$`, definition: { 'max-length': 2 }, priority: 3 });
      await setPolicy('operator-policies', op, { pattern: `^${q}$`, definition: { 'delivery-limit': 4 } });
      await ctx.restart();
      assert.deepEqual(await ctx.api.getJson(`/api/policies/%2F/${pol}`), {
        vhost: '/', name: pol, pattern: `^${q}$`, 'apply-to': 'all', definition: { 'max-length': 2 }, priority: 3,
      });
      const j = await queueJson(q, () => true);
      assert.equal(j.policy, pol);
      assert.equal(j.operator_policy, op);
      assert.deepEqual(j.effective_policy_definition, { 'delivery-limit': 4, 'max-length': 2 });
      ch = await ctx.clients.channel();
      for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from('x'), { persistent: true });
      await untilCount(q, 2);
      ctx.clients.deleteLater(q);
    });

    it('a policy the API answered for survives kill -9', { ...OPTS, skip: skipUnderReference }, async () => {
      const dataDir = await makeDataDir();
      try {
        let wharf = await spawnBroker(dataDir);
        const api = (): ManagementApi => new ManagementApi(`http://127.0.0.1:${wharf.httpPort}`);
        const body = { pattern: '^crash-', definition: { 'max-length': 7 }, 'apply-to': 'queues', priority: 4 };
        assert.equal((await api().put('/api/policies/%2F/survivor', body)).status, 201);
        assert.equal((await api().put('/api/operator-policies/%2F/cap', { pattern: '.*', definition: { expires: 60_000 } })).status, 201);
        await wharf.kill('SIGKILL');
        wharf = await spawnBroker(dataDir);
        try {
          assert.deepEqual(await api().getJson('/api/policies/%2F/survivor'), { vhost: '/', name: 'survivor', ...body });
          assert.deepEqual((await api().getJson<Json>('/api/operator-policies/%2F/cap')).definition, { expires: 60_000 });
        } finally {
          await wharf.kill();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
});

/** The body of the head message, put back (requeued) at once. */
async function peek(ch: Channel, q: string): Promise<string | undefined> {
  const m = await ch.get(q);
  if (!m) return undefined;
  ch.nack(m, false, true);
  return m.content.toString();
}

describe('policies on stream retention', { skip: skipUnderReference }, () => {
  const ctx = useManagement({ retentionCheckMs: 100 });

  it('a max-length-bytes policy caps a stream queue declared without a limit', OPTS, async () => {
    const q = ctx.clients.deleteLater(uniqueName('pol-retention'));
    const ch = await ctx.clients.confirmChannel();
    // Small segments, so retention (which deletes whole sealed segments) has some to delete.
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': 2000 } });
    for (let i = 0; i < 40; i++) ch.sendToQueue(q, Buffer.alloc(200, i));
    await ch.waitForConfirms();
    const name = uniqueName('pol-retention');
    const r = await ctx.api.put(`/api/policies/%2F/${name}`, { pattern: `^${q}$`, definition: { 'max-length-bytes': 3000 } });
    assert.equal(r.status, 201);
    try {
      await waitUntil(async () => {
        const s = await ctx.api.getJson<{ partitions: { log_start_offset: number }[] }>(`/api/wharf/streams/%2F/${enc(q)}`);
        return s.partitions[0].log_start_offset > 0;
      }, 'retention to delete the oldest segments');
    } finally {
      await ctx.api.delete(`/api/policies/%2F/${name}`);
    }
  });
});
