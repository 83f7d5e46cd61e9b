// The long Jepsen-style soak of replicated Kafka topics (not part of npm test): the run of
// test/integration/cluster/jepsen.test.ts for as long as --seconds says, with its seeded nemesis
// (kill -9 and SIGSTOP of partition leaders) and checker. Prints its progress and its figures;
// exits 1 if an acknowledged record was lost, replicas diverged or an ISR did not recover.
//
//   npm run build && node dist/scripts/cluster-soak.js --seconds 300 --seed 7 [--producers 4] [--partitions 2] [--overlap]

import { parseArgs } from 'node:util';
import { jepsenRun, summary } from '../test/helpers/jepsen/run.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    producers: { type: 'string', default: '4' },
    partitions: { type: 'string', default: '2' },
    overlap: { type: 'boolean', default: false },
  },
});
const started = Date.now();
const log = (line: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);
const result = await jepsenRun({
  seed: Number(args.seed),
  seconds: Number(args.seconds),
  producers: Number(args.producers),
  partitions: Number(args.partitions),
  overlap: args.overlap,
  log,
});
for (const line of summary(result)) console.log(line);
const ok = result.check.lost === 0 && result.check.divergent === 0 && result.check.prefixGaps === 0 && result.isrRecovered;
console.log(ok ? 'OK: nothing acknowledged was lost and the replicas agree' : 'FAILED');
process.exit(ok ? 0 : 1);
