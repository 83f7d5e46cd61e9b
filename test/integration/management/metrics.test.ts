// Prometheus metrics at /metrics: valid for promtool, RabbitMQ's rabbitmq_* names
// with per-queue series up to a limit (the aggregate above it), global message
// counters, and Kafka-style consumer-group lag for streams (kafkajs), which also
// shows in /api/wharf/groups, /api/wharf/streams and as a stream queue.
// Wharf's own: RabbitMQ serves its metrics on another port (its prometheus plugin).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { TEST_OPTS, uniqueName, waitUntil } from '../../helpers/async.js';
import { skipUnderReference } from '../../helpers/broker.js';
import { kafkaClient, topicName } from '../../helpers/kafka.js';
import { ManagementApi, enc, useManagement } from '../../helpers/management.js';

const OPTS = { timeout: 60_000 } as const;

/** The value of the series `name{labels...}` (labels as written, in order), or undefined. */
function seriesValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

async function metrics(api: ManagementApi, path = '/metrics'): Promise<string> {
  const r = await api.get(path, { auth: null });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return r.text;
}

describe('metrics', { skip: skipUnderReference }, () => {
  describe('per queue', () => {
    const ctx = useManagement();

    it('are valid for promtool and carry queue depth, connections and global counters', OPTS, async () => {
      const q = ctx.clients.deleteLater(uniqueName('met-q'));
      const conn = await ctx.clients.connect();
      const ch = await ctx.clients.channel(conn);
      await ch.assertQueue(q);
      for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
      ch.publish('amq.direct', 'nowhere', Buffer.from('dropped'));
      const consumer = await ctx.clients.channel(conn);
      await consumer.prefetch(2);
      let acked = 0;
      await consumer.consume(q, (m) => {
        if (m && acked === 0) {
          consumer.ack(m);
          acked++;
        }
      });
      await waitUntil(async () => seriesValue(await metrics(ctx.api), `rabbitmq_queue_messages_unacked{vhost="/",queue="${q}"}`) === 2, 'unacked series');
      const text = await metrics(ctx.api);
      const check = promtoolCheck(text);
      assert.equal(check.status, 0, check.output);
      assert.equal(check.output, '');
      assert.equal(seriesValue(text, `rabbitmq_queue_messages_ready{vhost="/",queue="${q}"}`), 2);
      assert.equal(seriesValue(text, `rabbitmq_queue_messages{vhost="/",queue="${q}"}`), 4);
      assert.equal(seriesValue(text, `rabbitmq_queue_consumers{vhost="/",queue="${q}"}`), 1);
      assert.equal(seriesValue(text, `rabbitmq_queue_messages_published_total{vhost="/",queue="${q}"}`), 5);
      assert.ok((seriesValue(text, 'rabbitmq_connections') ?? 0) >= 1);
      assert.ok((seriesValue(text, 'rabbitmq_channels') ?? 0) >= 2);
      assert.ok((seriesValue(text, 'rabbitmq_consumers') ?? 0) >= 1);
      assert.ok((seriesValue(text, 'rabbitmq_global_messages_received_total{protocol="amqp091"}') ?? 0) >= 6);
      assert.ok((seriesValue(text, 'rabbitmq_global_messages_delivered_consume_manual_ack_total{protocol="amqp091"}') ?? 0) >= 3);
      assert.ok((seriesValue(text, 'rabbitmq_global_messages_acknowledged_total{protocol="amqp091"}') ?? 0) >= 1);
      assert.ok((seriesValue(text, 'rabbitmq_global_messages_unroutable_dropped_total{protocol="amqp091"}') ?? 0) >= 1);
      assert.equal(seriesValue(text, 'rabbitmq_alarms_memory_used_watermark'), 0);
      assert.ok((seriesValue(text, 'wharf_fsync_duration_seconds_count') ?? -1) >= 0);
      assert.ok(seriesValue(text, 'wharf_recovery_seconds') !== undefined);
      assert.ok(seriesValue(text, 'wharf_flow_control_pauses_total') !== undefined);
    });

    it('stream partitions and consumer-group lag (kafkajs), also in /api/wharf and as a stream queue', OPTS, async () => {
      const topic = topicName('met-t');
      const groupId = topicName('met-g');
      const kafka = kafkaClient(ctx.broker.handle.kafkaBootstrap);
      const admin = kafka.admin();
      await admin.connect();
      const producer = kafka.producer();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
        await producer.connect();
        await producer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `v${i}` })) });
        await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] });
        // Kafka clients are listed with AMQP's, protocol "Kafka".
        const conns = await ctx.api.getJson<Record<string, unknown>[]>('/api/connections');
        const kafkaConn = conns.find((c) => c.protocol === 'Kafka');
        assert.ok(kafkaConn);
        assert.equal((kafkaConn.client_properties as Record<string, unknown>).client_id, 'wharf-test');
        const text = await metrics(ctx.api);
        const check = promtoolCheck(text);
        assert.equal(check.status, 0, check.output);
        assert.equal(seriesValue(text, `kafka_consumergroup_lag{vhost="/",consumergroup="${groupId}",topic="${topic}",partition="0"}`), 3);
        assert.equal(seriesValue(text, `kafka_consumergroup_current_offset{vhost="/",consumergroup="${groupId}",topic="${topic}",partition="0"}`), 2);
        assert.equal(seriesValue(text, `kafka_topic_partition_current_offset{vhost="/",topic="${topic}",partition="0"}`), 5);
        const groups = await ctx.api.getJson<Record<string, unknown>[]>('/api/wharf/groups/%2F');
        const g = groups.find((x) => x.group_id === groupId);
        assert.ok(g);
        assert.equal(g.lag, 3);
        const stream = await ctx.api.getJson(`/api/wharf/streams/%2F/${enc(topic)}`);
        const p0 = (stream.partitions as Record<string, unknown>[])[0];
        assert.equal(p0.high_watermark, 5);
        assert.equal(p0.log_start_offset, 0);
        const asQueue = await ctx.api.getJson(`/api/queues/%2F/${enc(topic)}`);
        assert.equal(asQueue.type, 'stream');
        assert.equal(asQueue.messages, 5);
        assert.equal((await ctx.api.delete(`/api/queues/%2F/${enc(topic)}`)).status, 204);
        assert.equal((await ctx.api.get(`/api/wharf/streams/%2F/${enc(topic)}`)).status, 404);
      } finally {
        await producer.disconnect();
        await admin.disconnect();
      }
    });
  });

  describe('above the per-queue limit', () => {
    const ctx = useManagement({ metricsQueueSeriesMax: 3 });

    it('aggregates queue series; /metrics/per-object still has them all', TEST_OPTS, async () => {
      const ch = await ctx.clients.channel();
      const names = Array.from({ length: 5 }, () => ctx.clients.deleteLater(uniqueName('met-agg')));
      for (const n of names) {
        await ch.assertQueue(n);
        ch.sendToQueue(n, Buffer.from('x'));
      }
      await waitUntil(async () => seriesValue(await metrics(ctx.api), 'rabbitmq_queue_messages_ready') === 5, 'aggregate ready');
      const text = await metrics(ctx.api);
      assert.ok(!text.includes('queue="'), 'no per-queue series above the limit');
      assert.equal(promtoolCheck(text).status, 0);
      const perObject = await metrics(ctx.api, '/metrics/per-object');
      for (const n of names) assert.equal(seriesValue(perObject, `rabbitmq_queue_messages_ready{vhost="/",queue="${n}"}`), 1);
      assert.equal(promtoolCheck(perObject).status, 0);
    });
  });
});
