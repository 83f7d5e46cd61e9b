// The long Jepsen-style soak of replicated Kafka topics (not part of npm test): the run of
// test/integration/cluster/jepsen.test.ts for as long as --seconds says, with its seeded nemesis
// (kill -9 and SIGSTOP of partition leaders) and checker. Prints its progress and its figures;
// exits 1 if an acknowledged record was lost, replicas diverged or an ISR did not recover.
// --netns puts each node and etcd in a network namespace of its own (root, iproute2 and iptables)
// and adds the network faults: partitions of a leader and a slow link. --faults picks the faults
// (comma-separated kinds, e.g. partition,partition-peers,one-way,slow). --workload amqp runs
// amqplib publishers with confirms on a quorum queue instead (kill and pause of its leader, then a
// drain); it exits 1 if a confirmed message was never delivered.
//
//   npm run build && node dist/scripts/cluster-soak.js --seconds 300 --seed 7 [--producers 4] [--partitions 2] [--overlap] [--netns] [--faults K,K] [--workload kafka|amqp]

import { parseArgs } from 'node:util';
import { amqpSummary } from '../test/helpers/jepsen/amqp.js';
import { jepsenRun, NETWORK_FAULTS, PROCESS_FAULTS, summary, type Fault } from '../test/helpers/jepsen/run.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    producers: { type: 'string', default: '4' },
    partitions: { type: 'string', default: '2' },
    overlap: { type: 'boolean', default: false },
    netns: { type: 'boolean', default: false },
    faults: { type: 'string' },
    workload: { type: 'string', default: 'kafka' },
  },
});
const known: readonly string[] = [...PROCESS_FAULTS, ...NETWORK_FAULTS];
const faults = args.faults?.split(',').map((f) => f.trim());
const unknown = faults?.filter((f) => !known.includes(f)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown fault ${unknown.join(', ')}; the faults are ${known.join(', ')}`);
  process.exit(2);
}
if (args.workload !== 'kafka' && args.workload !== 'amqp') {
  console.error(`unknown workload ${args.workload}; the workloads are kafka, amqp`);
  process.exit(2);
}
const started = Date.now();
const log = (line: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
if (args.workload === 'amqp') {
  const r = await jepsenRun({
    workload: 'amqp',
    seed: Number(args.seed),
    seconds: Number(args.seconds),
    producers: Number(args.producers),
    overlap: args.overlap,
    ...(faults !== undefined ? { faults: faults as Fault[] } : {}),
    log,
  });
  for (const line of amqpSummary(r)) console.log(line);
  console.log(r.check.lost === 0 ? 'OK: every confirmed message was delivered' : 'FAILED');
  process.exit(r.check.lost === 0 ? 0 : 1);
}
const result = await jepsenRun({
  seed: Number(args.seed),
  seconds: Number(args.seconds),
  producers: Number(args.producers),
  partitions: Number(args.partitions),
  overlap: args.overlap,
  network: args.netns ? 'netns' : 'loopback',
  ...(faults !== undefined ? { faults: faults as Fault[] } : {}),
  log,
});
for (const line of summary(result)) console.log(line);
const ok = result.check.lost === 0 && result.check.divergent === 0 && result.check.prefixGaps === 0 && result.isrRecovered;
console.log(ok ? 'OK: nothing acknowledged was lost and the replicas agree' : 'FAILED');
process.exit(ok ? 0 : 1);
