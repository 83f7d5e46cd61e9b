// Free TCP ports on 127.0.0.1 for the brokers under test: the kernel picks
// (listen on port 0), never one of RabbitMQ's standard ports, which other work
// on this machine may use.

import { createServer } from 'node:net';

/** AMQP, management, clustering/CLI distribution, epmd: never ours to take. */
export const STANDARD_PORTS: ReadonlySet<number> = new Set([5672, 5671, 15672, 25672, 4369, 35672]);

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports, none of them standard. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await kernelPort();
    if (!STANDARD_PORTS.has(port) && !ports.includes(port)) ports.push(port);
  }
  return ports;
}
