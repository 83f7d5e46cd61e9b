// Routing through filtered bindings: a fanout exchange's router with N bindings,
// each with an x-filter-policy on a customer id and a price range (an SNS topic
// with N filtered subscriptions), against the same exchange with one unfiltered
// binding. Prints routes/s and how many policy branches each message evaluated
// (the index's point: a handful, not N). In-process, no I/O: the routing cost alone.
//   node dist/bench/filters.js [--bindings 10000] [--messages 200000]

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createRouter } from '../src/broker/exchange/index.js';

const { values } = parseArgs({ options: { bindings: { type: 'string', default: '10000' }, messages: { type: 'string', default: '200000' } } });
const N = Number(values.bindings);
const M = Number(values.messages);

function run(label: string, bind: (r: ReturnType<typeof createRouter<number>>) => void, headersOf: (i: number) => Record<string, unknown>): void {
  const router = createRouter<number>('fanout');
  bind(router);
  const out = new Set<number>();
  let delivered = 0;
  // Warm up, then measure.
  for (let i = 0; i < 10_000; i++) router.route('', headersOf(i), out);
  out.clear();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) {
    router.route('', headersOf(i), out);
    delivered += out.size;
    out.clear();
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${label.padEnd(44)} ${Math.round(M / s).toLocaleString('en-US').padStart(12)} routes/s   ${(delivered / M).toFixed(2)} destinations/message`);
}

console.log(`filtered bindings on a fanout exchange: ${N} bindings, ${M} messages (load average ${loadavg()[0].toFixed(1)})`);
run('1 unfiltered binding', (r) => r.bind(0, '', {}), () => ({ customer: 'c1', price: 50 }));
run(`${N} bindings, customer + price range`, (r) => {
  for (let i = 0; i < N; i++) r.bind(i, '', { 'x-filter-policy': JSON.stringify({ customer: [`c${i}`], price: [{ numeric: ['>=', i % 100] }] }) });
}, (i) => ({ customer: `c${(i * 7919) % N}`, price: i % 200 }));
const scanned = Math.min(N, 1000);
run(`${scanned} bindings, price range only (no index key)`, (r) => {
  for (let i = 0; i < scanned; i++) r.bind(i, '', { 'x-filter-policy': JSON.stringify({ price: [{ numeric: ['>=', i] }] }) });
}, (i) => ({ price: i % 2000 }));
