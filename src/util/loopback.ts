// RabbitMQ's loopback rule (loopback_users: guest only from the host itself), one
// definition for every listener: AMQP, HTTP, Kafka SASL, the AWS APIs.

import { isIP } from 'node:net';

/** Whether a peer address is the host itself (IPv4 127/8, IPv6 ::1, and IPv4-mapped 127/8). */
export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (a === '::1') return true;
  return isIP(a) === 4 && a.startsWith('127.');
}
