// What the management API and metrics read: the broker, its resource monitor,
// its listeners, and the rate sampler.

import type { Broker } from '../broker/broker.js';
import type { ResourceMonitor } from '../broker/resource-monitor.js';
import type { RateSampler } from './rates.js';

export interface ListenerInfo {
  readonly protocol: string;
  readonly ip: string;
  readonly port: number;
}

export interface ManagementContext {
  readonly broker: Broker;
  readonly resources: ResourceMonitor | undefined;
  /** The broker's listeners (AMQP, Kafka, HTTP), for /api/overview and the port-listener check. */
  readonly listeners: () => readonly ListenerInfo[];
  /** RabbitMQ's node name ("wharf@host"). */
  readonly nodeName: string;
  readonly rates: RateSampler;
  /** Connections blocked by a resource alarm. */
  readonly blockedConnections: () => number;
  /** max_message_size: larger payloads on the publish route are refused as RabbitMQ does. */
  readonly maxMessageBytes: number;
}
