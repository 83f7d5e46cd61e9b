// The long Jepsen-style soak of replicated Kafka topics (not part of npm test): the run of
// test/integration/cluster/jepsen.test.ts for as long as --seconds says, with its seeded nemesis
// (kill -9 and SIGSTOP of partition leaders) and checker. Prints its progress and its figures;
// exits 1 if an acknowledged record was lost, replicas diverged or an ISR did not recover.
// The default faults are kill -9, SIGSTOP, kill -9 of two and etcd's kill -9 and SIGSTOP.
// --netns puts each node and etcd in a network namespace of its own (root, iproute2 and iptables)
// and adds the network faults: partitions of a leader, a slow link, etcd cut off from one node or
// all, two-way splits and a kill during a partition. --faults picks the faults (comma-separated
// kinds, e.g. partition,partition-peers,one-way,slow). --workload amqp runs amqplib publishers
// with confirms on a quorum queue instead (the same faults but kill -9 of two, then a drain); it
// exits 1 if a confirmed message was never delivered or a body never published was. Both exit 1
// if anything was acknowledged while no node could (the leader alone in its ISR, no lease anywhere).
//
//   npm run build && node dist/scripts/cluster-soak.js --seconds 300 --seed 7 [--producers 4] [--partitions 2] [--overlap] [--netns] [--faults K,K] [--workload kafka|amqp]

import { parseArgs } from 'node:util';
import { amqpSummary } from '../test/helpers/jepsen/amqp.js';
import { ALL_FAULTS, jepsenRun, summary, type Fault } from '../test/helpers/jepsen/run.js';

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
const known: readonly string[] = ALL_FAULTS;
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
    network: args.netns ? 'netns' : 'loopback',
    ...(faults !== undefined ? { faults: faults as Fault[] } : {}),
    log,
  });
  for (const line of amqpSummary(r)) console.log(line);
  const ok = r.check.lost === 0 && r.check.phantoms === 0 && r.quorumless.count === 0;
  console.log(ok ? 'OK: every confirmed message was delivered, nothing else, and nothing was confirmed without a quorum' : 'FAILED');
  process.exit(ok ? 0 : 1);
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
const ok = result.check.lost === 0 && result.check.divergent === 0 && result.check.prefixGaps === 0 && result.isrRecovered && result.quorumless.count === 0;
console.log(ok ? 'OK: nothing acknowledged was lost and the replicas agree' : 'FAILED');
process.exit(ok ? 0 : 1);
