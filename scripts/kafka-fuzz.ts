// The long Kafka fuzz campaign (not part of npm test): the same cases as
// test/fuzz/kafka-server-fuzz.test.ts, as many as --count says, against an in-process broker,
// with a healthy kafkajs producer checked after every case. Prints what it did.
//
//   npm run build && node dist/scripts/kafka-fuzz.js --count 5000 [--seed 1]

import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { kafkaClient } from '../test/helpers/kafka.js';
import { RawKafka, startKafkaServer } from '../test/helpers/raw-kafka.js';
import { FUZZ_TOPIC, fuzzCase, newStats, runCase } from '../test/fuzz/kafka-fuzz-core.js';

const { values: args } = parseArgs({ options: { count: { type: 'string', default: '2000' }, seed: { type: 'string', default: String(Date.now() % 1_000_000) } } });
const count = Number(args.count);
const seed = Number(args.seed);

const server = await startKafkaServer();
await server.vhost.streams.create(FUZZ_TOPIC, { partitions: 2, kafkaName: true });
await server.vhost.streams.create('healthy', { partitions: 1, kafkaName: true });
const healthy = kafkaClient(server.bootstrap).producer({ allowAutoTopicCreation: false });
await healthy.connect();
const stats = newStats();
const started = Date.now();
let sent = 0;
const rssStart = process.memoryUsage().rss;
let rssMax = rssStart;
try {
  await fc.assert(
    fc.asyncProperty(fuzzCase, async (c) => {
      await runCase(server.port, c, stats);
      const [r] = await healthy.send({ topic: 'healthy', acks: -1, messages: [{ value: `after case ${sent}` }] });
      assert.equal(Number(r.baseOffset), sent++);
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      if (stats.cases % 500 === 0) console.error(`${stats.cases} cases...`);
    }),
    { numRuns: count, seed, endOnFailure: true },
  );
} finally {
  RawKafka.destroyAll();
  await healthy.disconnect();
  await server.close();
}
const seconds = (Date.now() - started) / 1000;
console.log(`kafka fuzz campaign: seed ${seed}, ${stats.cases} cases in ${seconds.toFixed(0)} s: ${stats.frames} frames (${stats.mutated} mutated), ${stats.responses} responses, ${stats.closedByServer} connections closed by the server, ${stats.quiet} quiet; healthy producer OK after every case; RSS ${(rssStart / 2 ** 20).toFixed(0)} -> max ${(rssMax / 2 ** 20).toFixed(0)} MiB`);
console.log(`by api: ${[...stats.byApi].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`by mutation: ${[...stats.byMutation].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
