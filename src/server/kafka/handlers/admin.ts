// Topic administration: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs.

import { ReplicationError, type StreamReplication } from '../../../broker/stream/replication.js';
import { StreamError } from '../../../broker/stream/errors.js';
import { TOPIC_CONFIGS, topicConfigValue, validateTopicConfig, validateTopicConfigs } from '../../../broker/stream/topic-config.js';
import { ErrorCode, ZERO_UUID } from '../../../protocol/kafka/index.js';
import { NODE_ID, streamById, type Handler, type KafkaContext } from '../context.js';
import { failureOf } from '../errors.js';

/** DescribeConfigs resource types. */
const TOPIC = 2;
const BROKER = 4;
/** Config sources (DescribeConfigsResponse). */
const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;
/** IncrementalAlterConfigs operations. */
const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;

function checkReplication(factor: number, assignments: readonly { brokerIds: readonly number[] }[]): void {
  if (factor !== -1 && factor !== 1) {
    throw new KafkaAdminError(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${factor} time(s): The target replication factor of ${factor} cannot be reached because only 1 broker(s) are registered.`);
  }
  for (const a of assignments) {
    if (a.brokerIds.some((b) => b !== NODE_ID)) throw new KafkaAdminError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Unknown broker in replica assignment ${a.brokerIds.join(',')}`);
  }
}

/**
 * In a cluster: a replication factor up to the live nodes (-1: the default, min(3, live)).
 * Explicit assignments are taken as a replication factor; replicas are placed by the cluster.
 */
function checkClusterReplication(r: StreamReplication, factor: number, assignments: readonly { brokerIds: readonly number[] }[]): void {
  const wanted = assignments.length > 0 ? (assignments[0]?.brokerIds.length ?? 0) : factor;
  try {
    r.checkReplicationFactor(wanted);
  } catch (err) {
    // A node still joining cannot place a topic: Kafka's answer from a broker that is not the controller (retriable).
    if (err instanceof ReplicationError && err.kind === 'not-leader') throw new KafkaAdminError(ErrorCode.NOT_CONTROLLER, err.message);
    throw new KafkaAdminError(ErrorCode.INVALID_REPLICATION_FACTOR, (err as Error).message);
  }
}

class KafkaAdminError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function failure(err: unknown): { errorCode: number; errorMessage: string | null } {
  if (err instanceof KafkaAdminError) return { errorCode: err.code, errorMessage: err.message };
  const f = failureOf(err);
  return { errorCode: f.code, errorMessage: f.message };
}

export const createTopics: Handler<19> = async (ctx, req, v) => {
  const topics = [];
  for (const t of req.topics) {
    try {
      const replication = ctx.broker.replication;
      if (replication === undefined) checkReplication(t.replicationFactor, t.assignments);
      else checkClusterReplication(replication, t.replicationFactor, t.assignments);
      const configs: Record<string, string> = {};
      for (const c of t.configs) configs[c.name] = c.value as string;
      const partitions = t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.config.defaultPartitions : t.numPartitions;
      const stream = await ctx.vhost.streams.create(t.name, { partitions, configs, kafkaName: true, validateOnly: req.validateOnly });
      const factor = t.assignments.length > 0 ? (t.assignments[0]?.brokerIds.length ?? -1) : t.replicationFactor;
      if (stream !== undefined) await replication?.created(ctx.vhost.name, { name: t.name, topicId: stream.topicId, partitions, configs: stream.configs }, factor);
      const effective = stream?.configs ?? configs;
      topics.push({
        name: t.name,
        topicId: stream?.topicId ?? ZERO_UUID,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: partitions,
        replicationFactor: stream !== undefined ? (replication?.role(ctx.vhost.name, t.name, 0)?.replicas.length ?? 1) : Math.max(factor, 1),
        configs: v >= 5 ? describeTopicConfigs(effective, null, false).map((c) => ({ name: c.name, value: c.value, readOnly: false, configSource: c.configSource, isSensitive: false })) : null,
      });
    } catch (err) {
      topics.push({ name: t.name, topicId: ZERO_UUID, ...failure(err), numPartitions: -1, replicationFactor: -1, configs: null });
    }
  }
  return { throttleTimeMs: 0, topics };
};

export const deleteTopics: Handler<20> = async (ctx, req, v) => {
  const wanted = v >= 6 ? req.topics.map((t) => ({ name: t.name, topicId: t.topicId })) : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
  const responses = [];
  for (const w of wanted) {
    const stream = w.name !== null ? ctx.vhost.streams.get(w.name) : streamById(ctx.vhost, w.topicId);
    if (!stream) {
      responses.push({ name: w.name, topicId: w.topicId, errorCode: w.name !== null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: null });
      continue;
    }
    try {
      await ctx.vhost.streams.delete(stream.name);
      await ctx.broker.replication?.deleted(ctx.vhost.name, stream.name);
      responses.push({ name: stream.name, topicId: stream.topicId, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      responses.push({ name: stream.name, topicId: stream.topicId, ...failure(err) });
    }
  }
  return { throttleTimeMs: 0, responses };
};

export const createPartitions: Handler<37> = async (ctx, req) => {
  const results = [];
  for (const t of req.topics) {
    const stream = ctx.vhost.streams.get(t.name);
    try {
      if (!stream) throw new KafkaAdminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`);
      // A replicated topic's partitions are placed once, at creation (docs/cluster.md): adding
      // some on one node only would leave the others without them.
      if (ctx.broker.replication?.role(ctx.vhost.name, t.name, 0) !== undefined) {
        throw new KafkaAdminError(ErrorCode.INVALID_REQUEST, `Adding partitions to the replicated topic '${t.name}' is not supported by this cluster yet.`);
      }
      checkReplication(1, t.assignments ?? []);
      if (t.count <= stream.partitions.length) {
        throw new KafkaAdminError(ErrorCode.INVALID_PARTITIONS, `Topic currently has ${stream.partitions.length} partitions, which is higher than the requested ${t.count}.`);
      }
      if (!req.validateOnly) {
        await stream.addPartitions(t.count);
        await ctx.vhost.streams.persist();
      }
      results.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      results.push({ name: t.name, ...failure(err) });
    }
  }
  return { throttleTimeMs: 0, results };
};

interface ConfigOut {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  synonyms: { name: string; value: string | null; source: number }[];
  configType: number;
  documentation: string | null;
}

/** isDefault is v0's field; v1+ say it with configSource. */
function describeTopicConfigs(configs: Readonly<Record<string, string>>, keys: readonly string[] | null, synonyms: boolean, v = 1): ConfigOut[] {
  const names = keys ?? [...TOPIC_CONFIGS.keys()];
  const out: ConfigOut[] = [];
  for (const name of names) {
    const entry = TOPIC_CONFIGS.get(name);
    if (!entry) continue;
    const explicit = configs[name] !== undefined;
    const value = topicConfigValue(configs, name);
    out.push({
      name,
      value,
      readOnly: false,
      isDefault: v === 0 && !explicit,
      configSource: explicit ? SOURCE_DYNAMIC_TOPIC : SOURCE_DEFAULT,
      isSensitive: false,
      synonyms: synonyms ? [{ name, value, source: explicit ? SOURCE_DYNAMIC_TOPIC : SOURCE_DEFAULT }] : [],
      configType: 0,
      documentation: null,
    });
  }
  return out;
}

function brokerConfigs(ctx: KafkaContext): Record<string, string> {
  return {
    'auto.create.topics.enable': String(ctx.config.autoCreateTopics),
    'num.partitions': String(ctx.config.defaultPartitions),
    'default.replication.factor': '1',
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'min.insync.replicas': '1',
    'message.max.bytes': topicConfigValue({}, 'max.message.bytes'),
    'socket.request.max.bytes': String(ctx.config.requestBytesMax),
    'log.retention.ms': topicConfigValue({}, 'retention.ms'),
    'log.retention.bytes': topicConfigValue({}, 'retention.bytes'),
    'log.segment.bytes': topicConfigValue({}, 'segment.bytes'),
    'delete.topic.enable': 'true',
    'broker.id': String(NODE_ID),
  };
}

export const describeConfigs: Handler<32> = (ctx, req, v) => ({
  throttleTimeMs: 0,
  results: req.resources.map((r) => {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    if (r.resourceType === TOPIC) {
      const stream = ctx.vhost.streams.get(r.resourceName);
      if (!stream) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${r.resourceName} does not exist`, configs: [] };
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: describeTopicConfigs(stream.configs, r.configurationKeys, req.includeSynonyms && v >= 1, v) };
    }
    if (r.resourceType === BROKER) {
      if (r.resourceName !== '' && r.resourceName !== String(NODE_ID)) {
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unexpected broker id, expected ${NODE_ID} but received ${r.resourceName}`, configs: [] };
      }
      const all = brokerConfigs(ctx);
      const names = r.configurationKeys ?? Object.keys(all);
      const configs = names
        .filter((n) => all[n] !== undefined)
        .map((name) => ({ name, value: all[name], readOnly: true, isDefault: false, configSource: SOURCE_STATIC_BROKER, isSensitive: false, synonyms: [], configType: 0, documentation: null }));
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
    }
    return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${r.resourceType}`, configs: [] };
  }),
});

/** Applies `change` to a topic's configs (validated; nothing changes on error) unless validateOnly. */
async function alterTopic(ctx: KafkaContext, name: string, validateOnly: boolean, change: (configs: Record<string, string>) => void): Promise<void> {
  const stream = ctx.vhost.streams.get(name);
  if (!stream) throw new KafkaAdminError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist`);
  const next = { ...stream.configs };
  change(next);
  for (const [k, val] of Object.entries(next)) next[k] = validateTopicConfig(k, val);
  validateTopicConfigs(next);
  if (validateOnly) return;
  stream.setConfigs(next);
  await ctx.vhost.streams.persist();
}

function listValue(v: string | undefined): string[] {
  return v === undefined || v === '' ? [] : v.split(',').map((s) => s.trim());
}

export const incrementalAlterConfigs: Handler<44> = async (ctx, req) => {
  const responses = [];
  for (const r of req.resources) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      if (r.resourceType !== TOPIC) throw new KafkaAdminError(ErrorCode.INVALID_REQUEST, 'Only topic configs can be altered on Wharf');
      await alterTopic(ctx, r.resourceName, req.validateOnly, (configs) => {
        for (const c of r.configs) {
          if (!TOPIC_CONFIGS.has(c.name)) throw new StreamError('invalid-config', `Unknown topic config name: ${c.name}`);
          const current = configs[c.name] ?? topicConfigValue(configs, c.name);
          if (c.configOperation === OP_SET) configs[c.name] = c.value ?? '';
          else if (c.configOperation === OP_DELETE) delete configs[c.name];
          else if (c.configOperation === OP_APPEND) configs[c.name] = [...new Set([...listValue(current), ...listValue(c.value ?? '')])].join(',');
          else if (c.configOperation === OP_SUBTRACT) configs[c.name] = listValue(current).filter((x) => !listValue(c.value ?? '').includes(x)).join(',');
          else throw new KafkaAdminError(ErrorCode.INVALID_REQUEST, `Unknown config operation ${c.configOperation}`);
        }
      });
      responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      responses.push({ ...base, ...failure(err) });
    }
  }
  return { throttleTimeMs: 0, responses };
};

/** The older AlterConfigs: the given configs replace every explicit one. */
export const alterConfigs: Handler<33> = async (ctx, req) => {
  const responses = [];
  for (const r of req.resources) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      if (r.resourceType !== TOPIC) throw new KafkaAdminError(ErrorCode.INVALID_REQUEST, 'Only topic configs can be altered on Wharf');
      await alterTopic(ctx, r.resourceName, req.validateOnly, (configs) => {
        for (const k of Object.keys(configs)) delete configs[k];
        for (const c of r.configs) configs[c.name] = c.value as string;
      });
      responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      responses.push({ ...base, ...failure(err) });
    }
  }
  return { throttleTimeMs: 0, responses };
};
