// Free TCP ports on 127.0.0.1 for the brokers under test: the kernel picks
// (listen on port 0), never one of RabbitMQ's standard ports, which other work
// on this machine may use.

import { freePort as kernelPort } from '../../src/cluster/etcd-process.js';

/** AMQP, management, clustering/CLI distribution, epmd: never ours to take. */
export const STANDARD_PORTS: ReadonlySet<number> = new Set([5672, 5671, 15672, 25672, 4369, 35672]);

/** `count` distinct free ports, none of them standard. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await kernelPort();
    if (!STANDARD_PORTS.has(port) && !ports.includes(port)) ports.push(port);
  }
  return ports;
}
