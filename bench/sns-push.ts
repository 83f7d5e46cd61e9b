// SNS HTTP/S push throughput: N persistent messages in one subscription's queue,
// pushed by HttpPusher to a local node:http endpoint that answers 200 at once (the
// endpoint shares this process, so the figure includes its cost). Prints pushes/s for
// each per-subscription concurrency given. Numbers only; nothing is asserted.
//
//   node dist/bench/sns-push.js [--messages 20000] [--size 1024] [--concurrency 1,10,50]

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, DEFAULT_VHOST } from '../src/broker/broker.js';
import type { Vhost } from '../src/broker/vhost.js';
import { encodeProperties } from '../src/protocol/amqp/index.js';
import { HttpPusher } from '../src/server/aws/sns/http-push.js';
import { createLogger } from '../src/util/logger.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const MESSAGES = Number(arg('messages', '20000'));
const SIZE = Number(arg('size', '1024'));
const CONCURRENCIES = arg('concurrency', '1,10,50').split(',').map(Number);

async function main(): Promise<void> {
  const logger = createLogger('warn');
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-bench-snspush-'));
  let received = 0;
  const server = createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const broker = await Broker.open({ dataDir, fsync: 'batch', logger });
  const vhost = broker.vhost(DEFAULT_VHOST) as Vhost;
  const body = Buffer.alloc(SIZE, 'x');
  const headers = { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': 'bench' };
  const properties = encodeProperties({ deliveryMode: 2, headers });
  try {
    for (const concurrency of CONCURRENCIES) {
      const queue = `sns-bench-${concurrency}`;
      await vhost.declareQueue(queue, { passive: false, durable: true, exclusive: false, autoDelete: false, args: {} }, 'bench');
      for (let i = 0; i < MESSAGES; i++) {
        vhost.publish({ exchange: '', routingKey: queue, mandatory: false, properties, body, persistent: true, headers, priority: 0, expiration: -1, messageId: undefined });
      }
      await broker.store.sync();
      received = 0;
      let settled = 0;
      const pusher = new HttpPusher(vhost, broker.store, logger, { concurrency });
      const done = new Promise<void>((resolve) => {
        pusher.onResult = () => {
          if (++settled === MESSAGES) resolve();
        };
      });
      const started = process.hrtime.bigint();
      pusher.start({ subscriptionArn: queue, endpoint: url, queue });
      await done;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      pusher.close();
      console.log(`concurrency ${String(concurrency).padStart(3)}: ${MESSAGES} pushes of ${SIZE} B in ${seconds.toFixed(2)} s = ${Math.round(MESSAGES / seconds)} pushes/s (endpoint saw ${received})`);
    }
  } finally {
    await broker.close();
    server.closeAllConnections();
    server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
