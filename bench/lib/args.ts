// Command-line options of bench/compare, parsed with util.parseArgs. Pure:
// returns the options or throws an Error whose message is one usage line.

import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import type { BrokerKind } from './brokers.js';
import type { DriverChoice } from './driver.js';
import { parseWorkloads, type WorkloadId } from './workloads.js';

export interface CompareOptions {
  workloads: WorkloadId[];
  rounds: number;
  durationSecs: number;
  warmupSecs: number;
  deepMessages: number;
  idleConnections: number;
  brokers: BrokerKind[];
  driver: DriverChoice;
  driverCmd?: string;
  dataDirBase: string;
  resultsDir?: string;
  fsyncSecs: number;
  /** Run the brokers and the driver of e and e2 under SCHED_FIFO (bench/lib/realtime.ts). */
  realtime: boolean;
  help: boolean;
}

export const COMPARE_HELP = `Usage: npm run bench:compare -- [options]

Runs workloads a-h against Wharf and RabbitMQ (and the byte-forwarding
ceiling for a, b, c) in alternation, prints medians and ratios, and writes
bench/results/<timestamp>.json and .md. See bench/README.md.

  --workloads LIST        a,b,c,d,e,e2,f,g,h or all (all)
  --rounds N              rounds per workload and broker (3)
  --duration SECS         length of each timed run (10)
  --warmup SECS           unmeasured load before each timed run of a-e2 and h (2)
  --deep-messages N       messages published in workload f (1000000)
  --idle-connections N    connections held in workload g (1000)
  --brokers LIST          wharf,rabbitmq,ceiling (all three)
  --driver NAME           perf (wharf perf), amqplib (stand-in) or auto:
                          perf when this build has it, else amqplib (auto)
  --driver-cmd CMD        any command taking wharf perf's flags, e.g.
                          "node dist/src/cli/main.js perf"
  --data-dir-base DIR     where broker data dirs and the fsync test go (${tmpdir()})
  --results-dir DIR       where results are written (bench/results)
  --fsync-seconds SECS    seconds per disk measurement, 0 to skip (3)
  --realtime              run e and e2 (brokers and driver) at real-time priority
                          (chrt -f 20; Linux, root), so a shared machine's other
                          load does not decide their latency tail
  --help
`;

const BROKERS: readonly BrokerKind[] = ['wharf', 'rabbitmq', 'ceiling'];

function positiveInt(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

export function parseCompareArgs(argv: string[]): CompareOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      workloads: { type: 'string', default: 'all' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      'deep-messages': { type: 'string', default: '1000000' },
      'idle-connections': { type: 'string', default: '1000' },
      brokers: { type: 'string', default: BROKERS.join(',') },
      driver: { type: 'string', default: 'auto' },
      'driver-cmd': { type: 'string' },
      'data-dir-base': { type: 'string', default: tmpdir() },
      'results-dir': { type: 'string' },
      'fsync-seconds': { type: 'string', default: '3' },
      realtime: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const driver = values.driver as string;
  if (driver !== 'perf' && driver !== 'amqplib' && driver !== 'auto') throw new Error(`--driver must be perf, amqplib or auto, got '${driver}'`);
  const brokers = (values.brokers as string).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const b of brokers) if (!(BROKERS as readonly string[]).includes(b)) throw new Error(`unknown broker '${b}' in --brokers (known: ${BROKERS.join(',')})`);
  if (brokers.length === 0) throw new Error('--brokers names no broker');
  return {
    workloads: parseWorkloads(values.workloads as string),
    rounds: positiveInt('rounds', values.rounds as string),
    durationSecs: positiveInt('duration', values.duration as string),
    warmupSecs: positiveInt('warmup', values.warmup as string, 0),
    deepMessages: positiveInt('deep-messages', values['deep-messages'] as string),
    idleConnections: positiveInt('idle-connections', values['idle-connections'] as string),
    brokers: BROKERS.filter((b) => brokers.includes(b)),
    driver,
    driverCmd: values['driver-cmd'],
    dataDirBase: values['data-dir-base'] as string,
    resultsDir: values['results-dir'],
    fsyncSecs: positiveInt('fsync-seconds', values['fsync-seconds'] as string, 0),
    realtime: values.realtime === true,
    help: values.help === true,
  };
}
