// Wharf's own routes: streams (Kafka topics, AMQP stream queues) with their
// partitions' offsets, and consumer groups with their lag.

import type { FastifyInstance } from 'fastify';
import type { Stream } from '../../broker/stream/stream.js';
import type { Vhost } from '../../broker/vhost.js';
import { route, vhostOf } from '../api.js';
import type { ManagementContext } from '../context.js';
import { objectNotFound } from '../errors.js';
import { listResponse } from '../paging.js';

export function wharfRoutes(app: FastifyInstance, ctx: ManagementContext): void {
  route(app, ctx, '/api/wharf/streams', {
    GET: (r) => listResponse(ctx.broker.vhostList().flatMap((v) => [...v.streams.list()].map((s) => streamJson(v, s))), r.query),
  });
  route(app, ctx, '/api/wharf/streams/:vhost', {
    GET: (r) => {
      const v = vhostOf(ctx, r.params.vhost);
      return listResponse([...v.streams.list()].map((s) => streamJson(v, s)), r.query);
    },
  });
  route(app, ctx, '/api/wharf/streams/:vhost/:name', {
    GET: (r) => {
      const v = vhostOf(ctx, r.params.vhost);
      const s = v.streams.get(r.params.name);
      if (!s) throw objectNotFound();
      return streamJson(v, s);
    },
  });
  route(app, ctx, '/api/wharf/groups', {
    GET: async (r) => listResponse((await Promise.all(ctx.broker.vhostList().map((v) => groupsOf(v)))).flat(), r.query, ['vhost', 'group_id']),
  });
  route(app, ctx, '/api/wharf/groups/:vhost', {
    GET: async (r) => listResponse(await groupsOf(vhostOf(ctx, r.params.vhost)), r.query, ['group_id']),
  });
  route(app, ctx, '/api/wharf/groups/:vhost/:group', {
    GET: async (r) => {
      const found = (await groupsOf(vhostOf(ctx, r.params.vhost))).find((g) => g.group_id === r.params.group);
      if (!found) throw objectNotFound();
      return found;
    },
  });
}

export function streamJson(v: Vhost, s: Stream): Record<string, unknown> {
  return {
    name: s.name,
    vhost: v.name,
    topic_id: s.topicId,
    configs: s.configs,
    partitions: s.partitions.map((p, i) => ({
      partition: i,
      log_start_offset: p.logStartOffset,
      log_end_offset: p.logEndOffset,
      high_watermark: p.highWatermark,
      size_bytes: p.sizeBytes,
      segments: p.segmentCount,
      producers: p.producerCount,
    })),
  };
}

export interface GroupLag {
  readonly topic: string;
  readonly partition: number;
  readonly committed_offset: number;
  readonly high_watermark: number;
  readonly lag: number;
}

/**
 * Each group of a vhost with its members and, per committed partition, lag = high watermark - committed offset.
 * In a cluster, the groups this node coordinates (as Kafka's ListGroups on one broker).
 */
export async function groupsOf(v: Vhost): Promise<(Record<string, unknown> & { group_id: string; offsets: GroupLag[] })[]> {
  const coordinators = v.clusterGroups !== undefined ? v.clusterGroups.coordinators() : v.groups !== undefined ? [v.groups] : [];
  const out: (Record<string, unknown> & { group_id: string; offsets: GroupLag[] })[] = [];
  for (const coordinator of coordinators) {
    const listed = await coordinator.list();
    const described = await coordinator.describe(listed.groups.map((g) => g.groupId));
    for (const g of described) {
      const fetched = await coordinator.fetch(g.groupId, null);
      const offsets: GroupLag[] = fetched.partitions.map((p) => {
        const hw = v.streams.get(p.topic)?.partition(p.partition)?.highWatermark ?? 0;
        return { topic: p.topic, partition: p.partition, committed_offset: p.offset, high_watermark: hw, lag: Math.max(0, hw - p.offset) };
      });
      out.push({
        group_id: g.groupId,
        vhost: v.name,
        state: g.state,
        protocol_type: g.protocolType,
        protocol: g.protocolData,
        members: g.members.map((m) => ({ member_id: m.memberId, client_id: m.clientId, client_host: m.clientHost, group_instance_id: m.groupInstanceId })),
        offsets,
        lag: offsets.reduce((n, o) => n + o.lag, 0),
      });
    }
  }
  return out;
}
