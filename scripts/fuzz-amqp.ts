// The AMQP fuzz campaign (not part of npm test; test/fuzz/amqp-campaign.test.ts runs
// a short one): starts `wharf serve` as a child process (or targets --url), sends
// --frames generated and mutated frames over many sockets while amqplib clients
// publish with confirms and consume, and prints what happened (docs/limits.md).
//
//   npm run build && node dist/scripts/fuzz-amqp.js --frames 1000000 --seed 1
//   node dist/scripts/fuzz-amqp.js --url amqp://guest:guest@127.0.0.1:5672 [--pid PID for its RSS]

import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { makeDataDir, spawnBroker, type SpawnedBroker } from '../test/helpers/broker.js';
import { formatFuzzStats, processRss, runFuzzCampaign } from '../test/fuzz/amqp-fuzz-core.js';

const { values: args } = parseArgs({
  options: {
    frames: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    concurrency: { type: 'string', default: '16' },
    clients: { type: 'string', default: '3' },
    url: { type: 'string' },
    pid: { type: 'string' },
    fsync: { type: 'string', default: 'batch' },
  },
});
const seed = Number(args.seed);

let broker: SpawnedBroker | undefined;
let dataDir: string | undefined;
let host = '127.0.0.1';
let port: number;
let pid: number | undefined = args.pid === undefined ? undefined : Number(args.pid);
if (args.url !== undefined) {
  const u = new URL(args.url);
  host = u.hostname.replace(/^\[|\]$/g, '');
  port = Number(u.port || 5672);
} else {
  dataDir = await makeDataDir();
  broker = await spawnBroker(dataDir, ['--log-level', 'error', '--fsync', args.fsync]);
  port = broker.port;
  pid = broker.process.pid;
}
let exited = false;
void broker?.exited.then(() => (exited = true));
console.error(`fuzzing amqp://${host}:${port} with seed ${seed}, ${args.frames} frames`);
const stats = await runFuzzCampaign({
  host,
  port,
  seed,
  frames: Number(args.frames),
  concurrency: Number(args.concurrency),
  correctClients: Number(args.clients),
  rss: pid === undefined ? undefined : () => processRss(pid),
  crashed: () => exited,
  progress: (s) => console.error(`${s.frames} frames, ${s.connections} connections, ${s.correctConsumed} verified...`),
});
console.log(formatFuzzStats(seed, stats));
if (broker) {
  const internal = (broker.stderr().match(/internal error/g) ?? []).length;
  console.log(`broker internal errors logged: ${internal}${internal ? '\n' + broker.stderr().slice(0, 4000) : ''}`);
  if (!exited) await broker.kill('SIGTERM');
  else console.log(`broker exited during the run:\n${broker.stderr().slice(-4000)}`);
}
if (dataDir) await rm(dataDir, { recursive: true, force: true });
process.exitCode = stats.crashes > 0 || stats.correctErrors.length > 0 ? 1 : 0;
