// The "consumer" embedded protocol of classic consumer groups: the bytes a
// member puts in JoinGroup's protocol metadata (its subscription) and the
// leader in SyncGroup's assignments. Each is `version: int16` followed by the
// ConsumerProtocolSubscription / ConsumerProtocolAssignment data of that
// version (Kafka's ConsumerProtocol). Newer versions only append fields, so a
// version above the highest known is read as the highest, as Kafka does.

import {
  consumerProtocolAssignmentCodec,
  consumerProtocolSubscriptionCodec,
  type ConsumerProtocolAssignment,
  type ConsumerProtocolSubscription,
} from './generated/consumer-protocol.js';
import { KafkaProtocolError, malformed } from './protocol-error.js';
import { Reader, Writer, type Input, type MessageCodec } from './primitives.js';

/** The highest version of both schemas (spec/kafka-messages/ConsumerProtocol*.json). */
export const CONSUMER_PROTOCOL_MAX_VERSION = 3;

function decodeVersioned<T>(codec: MessageCodec<T>, bytes: Buffer, what: string): { version: number; data: T } {
  const r = new Reader(bytes);
  try {
    const version = r.i16();
    if (version < 0) throw malformed(`${what} version ${version}`);
    return { version, data: codec.read(r, Math.min(version, CONSUMER_PROTOCOL_MAX_VERSION)) };
  } catch (e) {
    if (e instanceof KafkaProtocolError) throw malformed(`${what}: ${e.message}`);
    throw e;
  }
}

function encodeVersioned<T>(codec: MessageCodec<T>, data: Input<T>, version: number): Buffer {
  const w = new Writer(128, false);
  w.i16(version);
  codec.write(w, data, version);
  return w.toBuffer();
}

export function decodeSubscription(bytes: Buffer): { version: number; data: ConsumerProtocolSubscription } {
  return decodeVersioned(consumerProtocolSubscriptionCodec, bytes, 'consumer subscription');
}

export function encodeSubscription(data: Input<ConsumerProtocolSubscription>, version = CONSUMER_PROTOCOL_MAX_VERSION): Buffer {
  return encodeVersioned(consumerProtocolSubscriptionCodec, data, version);
}

export function decodeAssignment(bytes: Buffer): { version: number; data: ConsumerProtocolAssignment } {
  return decodeVersioned(consumerProtocolAssignmentCodec, bytes, 'consumer assignment');
}

export function encodeAssignment(data: Input<ConsumerProtocolAssignment>, version = CONSUMER_PROTOCOL_MAX_VERSION): Buffer {
  return encodeVersioned(consumerProtocolAssignmentCodec, data, version);
}
