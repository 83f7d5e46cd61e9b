// Kafka clients for the integration suites: kafkajs against an in-process Wharf, quiet logs,
// short retries so a failure shows up as a test failure, not a minute of backoff.

import { spawn } from 'node:child_process';
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

/** Kafka error type names (e.g. 'INVALID_TOPIC_EXCEPTION') inside a kafkajs error, aggregate or not. */
export function kafkaErrorTypes(err: unknown): string[] {
  const e = err as { type?: string; errors?: unknown[]; originalError?: unknown; cause?: unknown };
  const out: string[] = [];
  if (typeof e?.type === 'string') out.push(e.type);
  for (const inner of e?.errors ?? []) out.push(...kafkaErrorTypes(inner));
  // Retries wrap the last error.
  if (e?.originalError) out.push(...kafkaErrorTypes(e.originalError));
  if (e?.cause) out.push(...kafkaErrorTypes(e.cause));
  return out;
}

/** Asserts that `p` rejects with a kafkajs error carrying Kafka error `type`. */
export async function rejectsWithKafkaError(p: Promise<unknown>, type: string): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`expected a ${type} error, but it succeeded`);
  const types = kafkaErrorTypes(caught);
  if (!types.includes(type)) throw new Error(`expected a ${type} error, got ${types.join(', ') || String(caught)}`);
}

/** Runs Debian's kcat (librdkafka) with `input` on its stdin; resolves with its exit code and output. */
export function kcat(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
