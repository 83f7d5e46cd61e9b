// Kafka clients for the integration suites: kafkajs against an in-process Wharf, quiet logs,
// short retries so a failure shows up as a test failure, not a minute of backoff.

import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { isReference } from './broker.js';

/** Kafka suites test Wharf's own Kafka listener; a reference RabbitMQ has none. */
export const skipKafkaUnderReference: string | false = isReference ? 'Kafka protocol: Wharf only (the reference broker is RabbitMQ)' : false;

export function kafkaClient(bootstrap: string, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'wharf-test',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 500 },
    ...extra,
  });
}

let counter = 0;
/** A topic name unique to this process and test. */
export function topicName(prefix = 't'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}
