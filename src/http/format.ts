// Broker objects as RabbitMQ's management API shows them (field names, shapes).

import { createHash } from 'node:crypto';
import type { ChannelInfo, ClientConnection, ConnectionInfo, ConsumerInfo } from '../broker/connections.js';
import type { Exchange } from '../broker/exchange/exchange.js';
import type { Queue } from '../broker/queue/queue.js';
import type { Stream } from '../broker/stream/stream.js';
import type { Vhost } from '../broker/vhost.js';
import type { ManagementContext } from './context.js';
import { argsToJson } from './json.js';
import { depthJson, exchangeMessageStats, queueMessageStats, queueStatsColumn } from './stats-json.js';
import { localCounts, type QueueCounts } from './remote-counts.js';

type Json = Record<string, unknown>;

/** `counts`: the queue's own, or, for a queue homed on another node of a cluster, its home's (remote-counts.ts). */
export function queueJson(ctx: ManagementContext, q: Queue, counts: QueueCounts = localCounts(q)): Json {
  const ready = counts.ready;
  const consumers = counts.consumers;
  return {
    arguments: argsToJson(q.args),
    auto_delete: q.autoDelete,
    consumer_capacity: consumers > 0 ? 1 : 0,
    consumer_utilisation: consumers > 0 ? 1 : 0,
    consumers,
    durable: q.durable,
    effective_policy_definition: q.policies.definition,
    exclusive: q.exclusiveOwner !== undefined,
    exclusive_consumer_tag: null,
    head_message_timestamp: null,
    message_bytes: counts.readyBytes,
    message_bytes_ready: counts.readyBytes,
    message_stats: queueMessageStats(q, ctx.rates),
    ...depthJson(q, { messages: ready + counts.unacked, ready, unacked: counts.unacked }, ctx.rates),
    messages_ready_ram: ready,
    name: q.name,
    node: queueNode(q, ctx),
    operator_policy: q.policies.operatorPolicy?.name ?? null,
    policy: q.policies.policy?.name ?? null,
    single_active_consumer_tag: null,
    state: 'running',
    type: q.config.queueType === 'quorum' ? 'quorum' : 'classic',
    vhost: q.vhost,
    ...quorumMembersJson(ctx, q),
  };
}

/** RabbitMQ's leader, members and online (node names) of a quorum queue replicated in a cluster; node is the leader. */
function quorumMembersJson(ctx: ManagementContext, q: Queue): Json {
  const m = q.journal === undefined ? undefined : ctx.broker.quorum?.members(q.vhost, q.name);
  if (m === undefined) return {};
  return { leader: m.leader ?? null, members: m.members, online: m.online, ...(m.leader !== undefined ? { node: m.leader } : {}) };
}

/** queueJson's plain fields that sort a list without rendering each queue (paging.ts). */
/** In a cluster, the queue's home (the node holding its messages), whichever node is asked. */
function queueNode(q: Queue, ctx: ManagementContext): string {
  return ctx.broker.queueHome(q.vhost, q.name) ?? ctx.nodeName;
}

const QUEUE_COLUMNS: Record<string, (q: Queue, ctx: ManagementContext, c: () => QueueCounts) => unknown> = {
  auto_delete: (q) => q.autoDelete,
  consumer_capacity: (_q, _ctx, c) => (c().consumers > 0 ? 1 : 0),
  consumer_utilisation: (_q, _ctx, c) => (c().consumers > 0 ? 1 : 0),
  consumers: (_q, _ctx, c) => c().consumers,
  durable: (q) => q.durable,
  exclusive: (q) => q.exclusiveOwner !== undefined,
  message_bytes: (_q, _ctx, c) => c().readyBytes,
  message_bytes_ready: (_q, _ctx, c) => c().readyBytes,
  messages: (_q, _ctx, c) => c().ready + c().unacked,
  messages_ready: (_q, _ctx, c) => c().ready,
  messages_ready_ram: (_q, _ctx, c) => c().ready,
  messages_unacknowledged: (_q, _ctx, c) => c().unacked,
  name: (q) => q.name,
  node: (q, ctx) => queueNode(q, ctx),
  state: () => 'running',
  type: (q) => (q.config.queueType === 'quorum' ? 'quorum' : 'classic'),
  vhost: (q) => q.vhost,
};

/**
 * A reader of one (dotted) path of queueJson(ctx, q) that does not build it, or
 * undefined for paths only the JSON has (they are rare sort keys: arguments.*).
 */
export function queueColumn(ctx: ManagementContext, path: string, counts: (q: Queue) => QueueCounts = localCounts): ((q: Queue) => unknown) | undefined {
  const plain = Object.hasOwn(QUEUE_COLUMNS, path) ? QUEUE_COLUMNS[path] : undefined;
  if (plain) return (q) => plain(q, ctx, () => counts(q));
  return queueStatsColumn(path, ctx.rates);
}

/** A stream (Kafka topic, AMQP stream queue) as RabbitMQ shows a stream queue; messages = retained records. */
export function streamQueueJson(ctx: ManagementContext, v: Vhost, s: Stream): Json {
  let messages = 0;
  let bytes = 0;
  for (const p of s.partitions) {
    messages += Math.max(0, p.highWatermark - p.logStartOffset);
    bytes += p.sizeBytes;
  }
  const def = s.definition;
  return {
    arguments: { 'x-queue-type': 'stream', ...(def.amqpArgs ? argsToJson(def.amqpArgs) : {}) },
    auto_delete: false,
    consumers: 0,
    durable: true,
    effective_policy_definition: s.policies.definition,
    exclusive: false,
    message_bytes: bytes,
    messages,
    messages_details: { rate: 0 },
    messages_ready: messages,
    messages_ready_details: { rate: 0 },
    messages_unacknowledged: 0,
    messages_unacknowledged_details: { rate: 0 },
    name: s.name,
    node: ctx.nodeName,
    operator_policy: s.policies.operatorPolicy?.name ?? null,
    partitions: s.partitions.length,
    policy: s.policies.policy?.name ?? null,
    state: 'running',
    type: 'stream',
    vhost: v.name,
  };
}

export function exchangeJson(ctx: ManagementContext, vhost: string, x: Exchange): Json {
  // RabbitMQ shows an exchange's policy only when it has one.
  const policy = x.policies.policy?.name;
  return {
    arguments: argsToJson(x.args),
    auto_delete: x.autoDelete,
    durable: x.durable,
    internal: x.internal,
    message_stats: exchangeMessageStats(x, ctx.rates),
    name: x.isDefault ? '' : x.name,
    ...(policy === undefined ? {} : { policy }),
    type: x.type,
    user_who_performed_action: 'rmq-internal',
    vhost,
  };
}

export interface BindingView {
  readonly source: string;
  readonly destination: string;
  readonly destinationType: 'queue' | 'exchange';
  readonly routingKey: string;
  readonly args: Record<string, unknown>;
}

/** Every binding of a vhost, the default exchange's implicit ones first (as RabbitMQ lists them). */
export function vhostBindings(v: Vhost): BindingView[] {
  const out: BindingView[] = [];
  for (const q of v.queues.values()) out.push({ source: '', destination: q.name, destinationType: 'queue', routingKey: q.name, args: {} });
  for (const x of v.exchanges.values()) {
    if (x.isDefault) continue;
    for (const b of x.router.bindings()) {
      const d = b.destination as Queue | Exchange;
      out.push({
        source: x.name,
        destination: d.name,
        destinationType: v.queues.get(d.name) === d ? 'queue' : 'exchange',
        routingKey: b.routingKey,
        args: b.args,
      });
    }
  }
  return out;
}

export function bindingJson(vhost: string, b: BindingView): Json {
  return {
    source: b.source,
    vhost,
    destination: b.destination,
    destination_type: b.destinationType,
    routing_key: b.routingKey,
    arguments: argsToJson(b.args),
    properties_key: propertiesKey(b.routingKey, b.args),
  };
}

/** RabbitMQ's binding "props" key: the quoted routing key, plus a hash of the arguments when there are any. */
export function propertiesKey(routingKey: string, args: Record<string, unknown>): string {
  const hasArgs = Object.keys(args).length > 0;
  if (routingKey === '' && !hasArgs) return '~';
  const key = encodeURIComponent(routingKey);
  if (!hasArgs) return key;
  // RabbitMQ hashes the arguments into 6 base64url characters (27 bits); so does this, with md5's first 4 bytes.
  const hash = createHash('md5').update(JSON.stringify(argsToJson(args))).digest().subarray(0, 4).toString('base64url');
  return `${key}~${hash}`;
}

export function connectionJson(ctx: ManagementContext, c: ClientConnection, info: ConnectionInfo = c.info()): Json {
  return {
    auth_mechanism: info.authMechanism,
    channel_max: info.channelMax,
    channels: info.channels.length,
    client_properties: argsToJson(info.clientProperties),
    connected_at: c.connectedAt,
    frame_max: info.frameMax,
    host: c.host,
    name: c.name,
    node: ctx.nodeName,
    peer_cert_issuer: info.tls?.peerCertIssuer ?? null,
    peer_cert_subject: info.tls?.peerCertSubject ?? null,
    peer_cert_validity: info.tls?.peerCertValidity ?? null,
    peer_host: c.peerHost,
    peer_port: c.peerPort,
    port: c.port,
    protocol: info.protocol,
    recv_oct: info.bytesReceived,
    send_oct: info.bytesSent,
    ssl: info.tls !== undefined,
    ...(info.tls ? { ssl_protocol: info.tls.protocol, ssl_cipher: info.tls.cipher } : {}),
    state: info.state,
    timeout: info.heartbeatSec,
    type: 'network',
    user: info.user,
    user_who_performed_action: info.user,
    vhost: info.vhost ?? '/',
  };
}

export function channelName(c: ClientConnection, ch: ChannelInfo): string {
  return `${c.name} (${ch.number})`;
}

export function channelJson(ctx: ManagementContext, c: ClientConnection, info: ConnectionInfo, ch: ChannelInfo): Json {
  return {
    acks_uncommitted: 0,
    confirm: ch.confirm,
    connection_details: { name: c.name, peer_host: c.peerHost, peer_port: c.peerPort },
    consumer_count: ch.consumers.length,
    global_prefetch_count: ch.globalPrefetchCount,
    messages_unacknowledged: ch.unacked,
    messages_uncommitted: ch.uncommitted,
    messages_unconfirmed: ch.unconfirmed,
    name: channelName(c, ch),
    node: ctx.nodeName,
    number: ch.number,
    prefetch_count: ch.prefetchCount,
    state: 'running',
    transactional: ch.transactional,
    user: info.user,
    user_who_performed_action: info.user,
    vhost: info.vhost ?? '/',
  };
}

export function consumerJson(ctx: ManagementContext, c: ClientConnection, info: ConnectionInfo, ch: ChannelInfo, k: ConsumerInfo): Json {
  return {
    arguments: argsToJson(k.args),
    ack_required: k.ackRequired,
    active: k.active,
    activity_status: k.active ? 'up' : 'waiting',
    channel_details: {
      connection_name: c.name,
      name: channelName(c, ch),
      node: ctx.nodeName,
      number: ch.number,
      peer_host: c.peerHost,
      peer_port: c.peerPort,
      user: info.user,
    },
    consumer_tag: k.tag,
    exclusive: k.exclusive,
    prefetch_count: k.prefetchCount,
    queue: { name: k.queue, vhost: info.vhost ?? '/' },
  };
}

/** Every consumer on the broker, with its connection and channel (for /api/consumers and a queue's consumer_details). */
export function allConsumers(ctx: ManagementContext): { vhost: string; queue: string; json: Json }[] {
  const out: { vhost: string; queue: string; json: Json }[] = [];
  for (const c of ctx.broker.connections.values()) {
    const info = c.info();
    for (const ch of info.channels) {
      for (const k of ch.consumers) out.push({ vhost: info.vhost ?? '/', queue: k.queue, json: consumerJson(ctx, c, info, ch, k) });
    }
  }
  return out;
}
