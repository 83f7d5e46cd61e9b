// What every Kafka request handler gets: the broker, the vhost the connection works in (`/`,
// or the one its SASL login named), the listener's settings, and the handler signature.

import type { Broker } from '../../broker/broker.js';
import type { Stream } from '../../broker/stream/stream.js';
import type { Vhost } from '../../broker/vhost.js';
import type { ApiKeyNumber, Input, RequestOf, ResponseOf } from '../../protocol/kafka/index.js';
import type { Logger } from '../../util/logger.js';
import type { SaslMechanismName } from './sasl/mechanism.js';

export interface KafkaServerConfig {
  /** The host clients are told to connect to (Metadata's broker list). */
  readonly advertisedHost: string;
  /** The listener's port, once known. */
  port: number;
  /** Kafka's auto.create.topics.enable (default true). */
  readonly autoCreateTopics: boolean;
  /** Kafka's num.partitions: partitions of auto-created topics and of CreateTopics with -1. */
  readonly defaultPartitions: number;
  /** Kafka's socket.request.max.bytes: bigger requests close the connection. */
  readonly requestBytesMax: number;
  /** Kafka's sasl.enabled.mechanisms; empty: no authentication, every connection works in `/`. */
  readonly saslMechanisms: readonly SaslMechanismName[];
}

/** This node's id in Metadata; Wharf is a one-node cluster until replication lands. */
export const NODE_ID = 0;

export interface KafkaContext {
  readonly broker: Broker;
  readonly vhost: Vhost;
  readonly config: KafkaServerConfig;
  readonly logger: Logger;
}

/** Who sent a request (for logs, group membership and client-facing names). */
export interface RequestSource {
  readonly clientId: string | null;
  readonly clientHost: string;
  readonly connectionId: string;
  /** The authenticated user (undefined without SASL). */
  readonly user?: string;
  /** Aborted when the connection closes: a long poll stops waiting and lets go of its watchers. */
  readonly signal: AbortSignal;
}

/** Returns the response data, or undefined when the request gets no response (Produce with acks=0). */
export type Handler<K extends ApiKeyNumber> = (
  ctx: KafkaContext,
  req: RequestOf<K>,
  version: number,
  source: RequestSource,
) => Promise<Input<ResponseOf<K>> | undefined> | Input<ResponseOf<K>> | undefined;

/**
 * A response may carry, under this key, a function the connection calls once the socket has
 * taken the response's bytes (or the connection is gone): Fetch gives its read buffers back then.
 */
export const AFTER_WRITE: unique symbol = Symbol('afterWrite');

/** Kafka's "not requested" value for authorized-operations fields. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

/** The stream a request names by topic id (Fetch v13+, Metadata v10+, DeleteTopics v6). */
export function streamById(vhost: Vhost, topicId: string): Stream | undefined {
  for (const s of vhost.streams.list()) if (s.topicId === topicId) return s;
  return undefined;
}

/**
 * Thrown by a handler when Kafka would close the connection instead of answering: Produce with
 * acks=0 that failed (the producer gets no response, so a closed connection is how it learns of
 * the error and refreshes its metadata; KafkaApis.handleProduceRequest).
 */
export class CloseConnection extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloseConnection';
  }
}
