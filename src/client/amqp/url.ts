// amqp://user:password@host:port/vhost -> connection parameters, as RabbitMQ's
// URI spec reads it: percent-decoded parts, an empty path means vhost "/", and
// "/%2f" is also "/". Query parameters: heartbeat (seconds), frame_max (bytes).

import { AmqpClientError } from './errors.js';

export interface AmqpUrl {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  heartbeatSec: number;
  frameMaxBytes: number;
}

const DEFAULT_PORT = 5672;
/** RabbitMQ's default frame_max; the broker's tune may lower it. */
const DEFAULT_FRAME_MAX = 131072;

export function parseAmqpUrl(text: string): AmqpUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new AmqpClientError(`invalid AMQP URL '${text}' (expected amqp://user:password@host:port/vhost)`);
  }
  if (u.protocol !== 'amqp:') {
    throw new AmqpClientError(`unsupported URL scheme '${u.protocol}' in '${text}' (only amqp: is supported)`);
  }
  const vhost = u.pathname === '' || u.pathname === '/' ? '/' : decodeURIComponent(u.pathname.slice(1));
  const number = (name: string, dflt: number): number => {
    const raw = u.searchParams.get(name);
    if (raw === null) return dflt;
    if (!/^\d+$/.test(raw)) throw new AmqpClientError(`invalid ${name}=${raw} in AMQP URL (expected a whole number)`);
    return Number(raw);
  };
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: u.port === '' ? DEFAULT_PORT : Number(u.port),
    username: u.username === '' ? 'guest' : decodeURIComponent(u.username),
    password: u.password === '' ? 'guest' : decodeURIComponent(u.password),
    vhost,
    heartbeatSec: number('heartbeat', 0),
    frameMaxBytes: number('frame_max', DEFAULT_FRAME_MAX),
  };
}

/** The URL with its password replaced, for messages and reports. */
export function redactUrl(text: string): string {
  try {
    const u = new URL(text);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return text;
  }
}
