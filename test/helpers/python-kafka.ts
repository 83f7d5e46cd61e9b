// librdkafka through Debian's python3-confluent-kafka (librdkafka 2.0): small scripts run with
// /usr/bin/python3 (where Debian installs the module, not a pyenv python3 on PATH), their last
// stdout line read as JSON. Readers assign partitions themselves (no consumer group), so they
// start at once and read each partition to its end.

import { type ChildProcess, spawn } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

/** Runs a script to its end; rejects if it exits non-zero or takes longer than `timeoutMs`. */
export function runPython(script: string, args: string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawnPython(script, args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`python exited ${code}:\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>);
    });
  });
}

export function spawnPython(script: string, args: string[]): ChildProcess {
  return spawn(PYTHON, ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Reads partitions 0..n-1 of a topic from the beginning to their ends with `isolation.level`
 * (read_committed readers end at the last stable offset). Prints {"values": {"<p>": [...]}}.
 */
export const READ_TOPIC = `
import json, sys
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition, OFFSET_BEGINNING
bootstrap, topic, n, isolation = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'reader-unused', 'isolation.level': isolation,
              'enable.auto.commit': False, 'enable.partition.eof': True})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(n)])
values = {str(p): [] for p in range(n)}
eof = set()
while len(eof) < n:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
            continue
        raise KafkaException(m.error())
    eof.discard(m.partition())
    values[str(m.partition())].append(m.value().decode())
c.close()
print(json.dumps({'values': values}))
`;

/** All values read_committed or read_uncommitted readers see, sorted. */
export async function readTopic(bootstrap: string, topic: string, partitions: number, isolation: 'read_committed' | 'read_uncommitted'): Promise<{ all: string[]; byPartition: Record<string, string[]> }> {
  const r = await runPython(READ_TOPIC, [bootstrap, topic, String(partitions), isolation]);
  const byPartition = r.values as Record<string, string[]>;
  return { all: Object.values(byPartition).flat().sort(), byPartition };
}
