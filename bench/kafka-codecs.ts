// Throughput of the Kafka codecs alone, in records per second: the server's
// side of Produce (frame split, request decode, batch split + CRC check +
// base offset set) and of Fetch (response encode around stored batches).
// Prints numbers; asserts nothing.
//   node dist/bench/kafka-codecs.js [--records-per-batch N] [--size BYTES] [--seconds S]

import { parseArgs } from 'node:util';
import {
  ApiKey,
  KafkaFrameParser,
  buildRecordBatchSync,
  checkBatch,
  concatFrame,
  decodeRequest,
  encodeRequest,
  encodeResponse,
  setBaseOffset,
  splitBatches,
} from '../src/protocol/kafka/index.js';

const { values } = parseArgs({
  options: {
    'records-per-batch': { type: 'string', default: '1000' },
    size: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '3' },
  },
});
const perBatch = Number(values['records-per-batch']);
const size = Number(values.size);
const seconds = Number(values.seconds);

const batch = buildRecordBatchSync({ records: Array.from({ length: perBatch }, () => ({ value: Buffer.alloc(size, 'x') })), baseTimestamp: 1n });
const partitions = 8;
const produce = concatFrame(
  encodeRequest(ApiKey.Produce, 9, 1, 'bench', {
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 'bench', partitionData: Array.from({ length: partitions }, (_, index) => ({ index, records: batch })) }],
  }),
);

function run(name: string, recordsPerOp: number, op: () => void): void {
  const end = Date.now() + seconds * 1000;
  let ops = 0;
  const start = process.hrtime.bigint();
  while (Date.now() < end) {
    for (let i = 0; i < 50; i++) op();
    ops += 50;
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${name}: ${Math.round((ops * recordsPerOp) / s).toLocaleString('en')} records/s (${Math.round(ops / s).toLocaleString('en')} requests/s)`);
}

let offset = 0n;
run(`produce: frame + decode v9 + split + CRC + offsets (${partitions} partitions x ${perBatch} x ${size} B)`, partitions * perBatch, () => {
  const parser = new KafkaFrameParser({
    onFrame: (f) => {
      const req = decodeRequest(f);
      if (req.apiKey !== ApiKey.Produce) throw new Error('not produce');
      for (const t of req.body.topicData) {
        for (const p of t.partitionData) {
          for (const b of splitBatches(p.records as Buffer).batches) {
            checkBatch(b);
            setBaseOffset(b, offset);
            offset += BigInt(perBatch);
          }
        }
      }
    },
    onError: (e) => {
      throw e;
    },
  });
  parser.push(produce);
});

run(`fetch: encode v12 response (${partitions} partitions x ${perBatch} x ${size} B, batches by reference)`, partitions * perBatch, () => {
  encodeResponse(ApiKey.Fetch, 12, 1, {
    responses: [
      {
        topic: 'bench',
        partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, highWatermark: 1000n, records: batch })),
      },
    ],
  });
});
