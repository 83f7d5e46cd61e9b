// What TLS costs: persistent 1 KiB messages published with confirms to a durable
// queue, then consumed with acks, over plain AMQP and over AMQPS against the same
// Wharf (a child process with a throwaway certificate), rounds interleaved so that
// drift on a shared machine hits both alike. Prints numbers; asserts nothing.
//
//   node dist/bench/tls.js [--messages 20000] [--rounds 3] [--size 1024]
//     [--rabbitmq amqp://guest:guest@127.0.0.1:36100,amqps://guest:guest@127.0.0.1:36103,/path/ca.pem]
//
// --rabbitmq adds the same pair against a RabbitMQ with a TLS listener
// (scripts/reference-rabbitmq.sh with WHARF_REFERENCE_TLS_DIR prints the URLs and CA dir).

import amqp from 'amqplib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { publishConfirmed } from './lib/publish-confirmed.js';
import { startWharf, stopWharf } from './lib/wharf-child.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    size: { type: 'string', default: '1024' },
    rabbitmq: { type: 'string' },
  },
});
const total = Number(values.messages);
const rounds = Number(values.rounds);
const body = Buffer.alloc(Number(values.size), 'x');

/** A CA and a localhost certificate signed by it, made with openssl in `dir`. */
function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=bench-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'server.ext', '-out', 'server.pem');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

interface Round {
  publishPerSec: number;
  consumePerSec: number;
}

/** Publishes `total` persistent messages with confirms, then consumes them with acks. */
async function round(url: string, ca: Buffer | undefined): Promise<Round> {
  const conn = await amqp.connect(url, ca ? { ca: [ca], servername: 'localhost' } : {});
  try {
    const ch = await conn.createConfirmChannel();
    const q = `bench-tls-${process.pid}-${Date.now()}`;
    await ch.assertQueue(q, { durable: true });
    const t0 = performance.now();
    await publishConfirmed(ch, total, 1000, (_i, onConfirm) => ch.sendToQueue(q, body, { persistent: true }, onConfirm));
    const publishSec = (performance.now() - t0) / 1000;
    await ch.prefetch(1000);
    const t1 = performance.now();
    await new Promise<void>((resolve) => {
      let n = 0;
      void ch.consume(q, (m) => {
        if (!m) return;
        // Ack every 100th with multiple: what a batching consumer does.
        if (++n % 100 === 0 || n === total) ch.ack(m, true);
        if (n === total) resolve();
      });
    });
    const consumeSec = (performance.now() - t1) / 1000;
    await ch.deleteQueue(q);
    return { publishPerSec: total / publishSec, consumePerSec: total / consumeSec };
  } finally {
    await conn.close().catch(() => undefined);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function compare(label: string, plainUrl: string, tlsUrl: string, ca: Buffer): Promise<void> {
  const plain: Round[] = [];
  const tls: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(await round(plainUrl, undefined));
    tls.push(await round(tlsUrl, ca));
  }
  const line = (name: string, rs: Round[]): string =>
    `${label.padEnd(9)} ${name.padEnd(6)} publish+confirm ${median(rs.map((x) => x.publishPerSec)).toFixed(0).padStart(7)} msg/s` +
    `   consume+ack ${median(rs.map((x) => x.consumePerSec)).toFixed(0).padStart(7)} msg/s`;
  console.log(line('plain', plain));
  console.log(line('tls', tls));
  const ratio = (f: (x: Round) => number): string => ((median(tls.map(f)) / median(plain.map(f))) * 100).toFixed(0);
  console.log(`${label.padEnd(9)} tls/plain: publish ${ratio((x) => x.publishPerSec)}%, consume ${ratio((x) => x.consumePerSec)}%`);
}

async function main(): Promise<void> {
  console.log(`persistent ${body.length}-byte messages, ${total} per round, median of ${rounds} interleaved rounds, confirm window 1000, prefetch 1000`);
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-tls-'));
  try {
    const certs = makeCerts(dir);
    const b = await startWharf(join(dir, 'data'), [], ['--tls-cert', certs.cert, '--tls-key', certs.key, '--amqps-port', '0']);
    try {
      if (b.amqpsUrl === undefined) throw new Error('no amqps= in the listening line');
      await compare('wharf', b.url, b.amqpsUrl, readFileSync(certs.ca));
    } finally {
      await stopWharf(b, 'SIGTERM');
    }
    if (values.rabbitmq) {
      const [plainUrl, tlsUrl, caFile] = values.rabbitmq.split(',');
      await compare('rabbitmq', plainUrl, tlsUrl, readFileSync(caFile));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
