// Screenshots of the dashboard's main pages for docs/management.md, taken from a
// real Wharf with some traffic on it, in Debian's Chromium (playwright-core):
//
//   npm run build && node dist/scripts/dashboard-screenshots.js [outDir]
//
// Writes docs/dashboard/*.png (overview in light and dark, queues, a queue's
// page, connections, exchanges, streams). The broker runs in this process on
// free ports with a temporary data dir, removed at the end.

import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { startBroker } from '../src/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = process.argv[2] ?? join(root, 'docs/dashboard');
const CHROMIUM = process.env.WHARF_CHROMIUM || '/usr/bin/chromium';
const VIEWPORT = { width: 1360, height: 860 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-shots-'));
  const broker = await startBroker({ dataDir, amqpPort: 0, httpPort: 0, kafkaPort: 0, bind: '127.0.0.1', logLevel: 'warn', statsIntervalMs: 1000 });
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.amqpPort}`, { clientProperties: { connection_name: 'orders-service' } });
  const ch = await conn.createChannel();
  let traffic = true;
  try {
    await topology(ch);
    await kafkaTopic(broker.kafkaPort);
    const loop = (async () => {
      for (let i = 0; traffic; i++) {
        const burst = 20 + Math.round(15 * Math.sin(i / 3));
        for (let j = 0; j < burst; j++) ch.publish('orders', 'order.created', Buffer.from(JSON.stringify({ id: i * 100 + j, total: 42.5 })), { persistent: true, contentType: 'application/json' });
        await sleep(200);
      }
    })();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const base = `http://127.0.0.1:${broker.httpPort}/`;
    for (const scheme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: scheme, deviceScaleFactor: 1 });
      const page = await context.newPage();
      await signIn(page, base);
      await sleep(scheme === 'light' ? 22_000 : 6_000);
      await shot(page, scheme === 'light' ? 'overview' : 'overview-dark');
      if (scheme === 'light') {
        await visit(page, `${base}#/queues`, 'queues');
        await visit(page, `${base}#/queue/%2F/orders.dead-letters`, 'queue', true);
        await visit(page, `${base}#/connections`, 'connections');
        await visit(page, `${base}#/exchange/%2F/orders`, 'exchange');
        await visit(page, `${base}#/streams`, 'streams');
      }
      await context.close();
    }
    await browser.close();
    traffic = false;
    await loop;
  } finally {
    traffic = false;
    await conn.close().catch(() => {});
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function topology(ch: amqp.Channel): Promise<void> {
  await ch.assertExchange('orders', 'topic');
  await ch.assertQueue('orders.dead-letters');
  await ch.assertQueue('orders.created', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'orders.dead-letters' } });
  await ch.bindQueue('orders.created', 'orders', 'order.created');
  await ch.assertQueue('orders.audit', { arguments: { 'x-max-length': 100_000 } });
  await ch.bindQueue('orders.audit', 'orders', 'order.#');
  for (const name of ['billing.invoices', 'billing.refunds', 'emails.outgoing', 'emails.bounces', 'search.reindex', 'shipping.labels']) {
    await ch.assertQueue(name);
    for (let i = 0; i < 5 + name.length; i++) ch.sendToQueue(name, Buffer.from(`{"n":${i}}`), { contentType: 'application/json' });
  }
  // Dead letters with x-death: rejected without requeue.
  for (let i = 0; i < 12; i++) ch.publish('orders', 'order.created', Buffer.from(JSON.stringify({ id: i, total: 'not-a-number' })), { contentType: 'application/json' });
  await sleep(300);
  for (let i = 0; i < 12; i++) {
    const m = await ch.get('orders.created');
    if (m) ch.nack(m, false, false);
  }
  // A slow consumer so the queue has one.
  await ch.prefetch(5);
  await ch.consume('orders.created', (m) => {
    if (m) setTimeout(() => ch.ack(m), 30);
  });
}

async function kafkaTopic(port: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'clickstream', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'clicks', numPartitions: 3 }] });
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < 10; i++) {
    await producer.send({ topic: 'clicks', messages: Array.from({ length: 50 }, (_, j) => ({ key: `user-${(i * 50 + j) % 17}`, value: `{"page":"/p/${j}"}` })) });
  }
  await admin.setOffsets({ groupId: 'analytics', topic: 'clicks', partitions: [0, 1, 2].map((partition) => ({ partition, offset: String(40 + partition * 30) })) });
  await producer.disconnect();
  await admin.disconnect();
}

async function signIn(page: Page, base: string): Promise<void> {
  await page.goto(base);
  await page.fill('input[name=username]', 'guest');
  await page.fill('input[name=password]', 'guest');
  await page.click('button[type=submit]');
  await page.waitForSelector('#whoami');
}

async function visit(page: Page, url: string, name: string, fullPage = false): Promise<void> {
  await page.goto(url);
  await sleep(1500);
  await shot(page, name, fullPage);
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  // Blur whatever has focus so no focus ring lands in the picture.
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage });
  console.log(`wrote ${join(outDir, `${name}.png`)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
