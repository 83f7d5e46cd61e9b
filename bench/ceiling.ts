// The byte-forwarding ceiling: a do-nothing AMQP 0-9-1 endpoint. It answers
// just enough of the protocol (handshake, channel, queue/exchange declare and
// bind, qos, consume, confirm.select) for a client to run its usual traffic,
// and forwards each basic.publish's content to a consumer of the queue named
// by the routing key (or bound to the fanout-like exchange) as basic.deliver:
// only the method frame is re-made, the content header's property bytes and
// the body bytes are passed through. Confirms are acked at once (one
// basic.ack multiple=true per channel per read), consumer acks are ignored,
// prefetch is not enforced, nothing is stored. What it reaches with the same
// client on the same machine is what Node.js and the sockets can move: the
// ceiling Wharf's throughput is stated against (bench/README.md).
//
//   node dist/bench/ceiling.js [--port 0] [--host 127.0.0.1]
//   prints "ceiling listening amqp=HOST:PORT"

import { createServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  CommandAssembler,
  FrameParser,
  FrameWriter,
  FRAME_MIN_SIZE,
  type Command,
  type FieldTable,
  type Method,
} from '../src/protocol/amqp/index.js';

const BASIC_CLASS_ID = 60;
const CHANNEL_MAX = 2047;
const FRAME_MAX = 131072;

interface Channel {
  confirm: boolean;
  /** Publishes seen in confirm mode; the last one is acked at the end of the read. */
  publishSeq: number;
  confirmPending: boolean;
  deliverySeq: number;
}

interface Consumer {
  readonly conn: CeilingConnection;
  readonly channel: number;
  readonly tag: string;
}

interface Queue {
  consumers: Consumer[];
  next: number;
}

const SERVER_PROPERTIES: FieldTable = {
  capabilities: {
    publisher_confirms: true,
    'basic.nack': true,
    consumer_cancel_notify: true,
    'connection.blocked': true,
    per_consumer_qos: true,
  },
  product: 'Wharf bench ceiling',
  platform: `Node.js ${process.version}`,
};

export class CeilingServer {
  readonly server: Server;
  private readonly queues = new Map<string, Queue>();
  /** exchange name -> bound queue names (every exchange routes like fanout). */
  private readonly bindings = new Map<string, Set<string>>();
  /** Connections with frames to write at the end of the current read. */
  private readonly dirty = new Set<CeilingConnection>();
  readonly connections = new Set<CeilingConnection>();
  /** Sockets whose write buffer is full: all reading pauses until they drain. */
  private readonly congested = new Set<CeilingConnection>();
  private queueSeq = 0;

  constructor() {
    this.server = createServer({ noDelay: true }, (socket) => {
      const conn = new CeilingConnection(this, socket);
      this.connections.add(conn);
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    for (const conn of this.connections) conn.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (q === undefined) {
      q = { consumers: [], next: 0 };
      this.queues.set(name, q);
    }
    return q;
  }

  newQueueName(): string {
    return `amq.gen-ceiling-${++this.queueSeq}`;
  }

  bind(exchange: string, queue: string): void {
    let set = this.bindings.get(exchange);
    if (set === undefined) this.bindings.set(exchange, (set = new Set()));
    set.add(queue);
  }

  removeConsumers(match: (c: Consumer) => boolean): void {
    for (const q of this.queues.values()) q.consumers = q.consumers.filter((c) => !match(c));
  }

  /** Routes one publish: the default exchange by queue name, any other to its bound queues. */
  route(exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer): void {
    if (exchange === '') {
      const q = this.queues.get(routingKey);
      if (q !== undefined) this.deliver(q, exchange, routingKey, rawProperties, body);
      return;
    }
    const bound = this.bindings.get(exchange);
    if (bound === undefined) return;
    for (const name of bound) {
      const q = this.queues.get(name);
      if (q !== undefined) this.deliver(q, exchange, routingKey, rawProperties, body);
    }
  }

  private deliver(q: Queue, exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer): void {
    const n = q.consumers.length;
    if (n === 0) return;
    const c = q.consumers[q.next++ % n];
    const ch = c.conn.channels.get(c.channel);
    if (ch === undefined) return;
    c.conn.writer.method(c.channel, {
      name: 'basic.deliver',
      consumerTag: c.tag,
      deliveryTag: ++ch.deliverySeq,
      redelivered: false,
      exchange,
      routingKey,
    });
    c.conn.writer.content(c.channel, BASIC_CLASS_ID, rawProperties, body);
    this.dirty.add(c.conn);
  }

  markDirty(conn: CeilingConnection): void {
    this.dirty.add(conn);
  }

  /** Called after each read: one socket write per connection with output. */
  flush(): void {
    for (const conn of this.dirty) conn.flush();
    this.dirty.clear();
  }

  congestion(conn: CeilingConnection, full: boolean): void {
    const before = this.congested.size;
    if (full) this.congested.add(conn);
    else this.congested.delete(conn);
    if (before === 0 && this.congested.size > 0) for (const c of this.connections) c.socket.pause();
    if (before > 0 && this.congested.size === 0) for (const c of this.connections) c.socket.resume();
  }
}

class CeilingConnection {
  readonly writer = new FrameWriter(FRAME_MAX);
  readonly channels = new Map<number, Channel>();
  private readonly parser: FrameParser;
  private readonly assembler: CommandAssembler;
  private consumerSeq = 0;

  constructor(
    private readonly owner: CeilingServer,
    readonly socket: Socket,
  ) {
    this.assembler = new CommandAssembler((c) => this.onCommand(c), 0);
    this.parser = new FrameParser(
      {
        onProtocolHeader: (ok) => this.onProtocolHeader(ok),
        onFrame: (f) => this.assembler.handleFrame(f),
        onError: () => socket.destroy(),
      },
      FRAME_MIN_SIZE,
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch {
        socket.destroy(); // a protocol error: the ceiling does not explain itself
      }
      this.finishRead();
      owner.flush();
    });
    socket.on('drain', () => owner.congestion(this, false));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      owner.connections.delete(this);
      owner.congestion(this, false);
      owner.removeConsumers((c) => c.conn === this);
    });
  }

  flush(): void {
    const out = this.writer.take();
    if (out !== undefined && !this.socket.destroyed && !this.socket.write(out)) this.owner.congestion(this, true);
  }

  private send(channel: number, m: Method): void {
    this.writer.method(channel, m);
    this.owner.markDirty(this);
  }

  /** Confirms everything published in this read, one ack per channel. */
  private finishRead(): void {
    for (const [id, ch] of this.channels) {
      if (!ch.confirmPending) continue;
      ch.confirmPending = false;
      this.send(id, { name: 'basic.ack', deliveryTag: ch.publishSeq, multiple: true });
    }
  }

  private onProtocolHeader(ok: boolean): void {
    if (!ok) {
      this.socket.destroy();
      return;
    }
    this.send(0, {
      name: 'connection.start',
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: SERVER_PROPERTIES,
      mechanisms: Buffer.from('PLAIN AMQPLAIN'),
      locales: Buffer.from('en_US'),
    });
  }

  private onCommand(cmd: Command): void {
    const m = cmd.method;
    const id = cmd.channel;
    switch (m.name) {
      case 'basic.publish': {
        const ch = this.channels.get(id);
        if (ch?.confirm) {
          ch.publishSeq++;
          ch.confirmPending = true;
        }
        const header = cmd.header;
        if (header !== undefined && cmd.body !== undefined) this.owner.route(m.exchange, m.routingKey, header.rawProperties, cmd.body);
        return;
      }
      case 'basic.ack':
      case 'basic.nack':
      case 'basic.reject':
        return;
      case 'connection.start-ok':
        return this.send(0, { name: 'connection.tune', channelMax: CHANNEL_MAX, frameMax: FRAME_MAX, heartbeat: 0 });
      case 'connection.tune-ok':
        this.parser.setFrameMax(m.frameMax);
        this.writer.setFrameMax(m.frameMax);
        return;
      case 'connection.open':
        return this.send(0, { name: 'connection.open-ok', knownHosts: '' });
      case 'connection.close':
        this.send(0, { name: 'connection.close-ok' });
        this.owner.flush();
        this.socket.end();
        return;
      case 'connection.close-ok':
        this.socket.end();
        return;
      case 'channel.open':
        this.channels.set(id, { confirm: false, publishSeq: 0, confirmPending: false, deliverySeq: 0 });
        return this.send(id, { name: 'channel.open-ok', channelId: '' });
      case 'channel.close':
        this.channels.delete(id);
        this.assembler.resetChannel(id);
        this.owner.removeConsumers((c) => c.conn === this && c.channel === id);
        return this.send(id, { name: 'channel.close-ok' });
      case 'channel.close-ok':
        return;
      case 'confirm.select': {
        const ch = this.channels.get(id);
        if (ch) ch.confirm = true;
        if (!m.nowait) this.send(id, { name: 'confirm.select-ok' });
        return;
      }
      case 'basic.qos':
        return this.send(id, { name: 'basic.qos-ok' });
      case 'queue.declare': {
        const queue = m.queue === '' ? this.owner.newQueueName() : m.queue;
        const q = this.owner.queue(queue);
        if (!m.nowait) this.send(id, { name: 'queue.declare-ok', queue, messageCount: 0, consumerCount: q.consumers.length });
        return;
      }
      case 'queue.bind':
        this.owner.bind(m.exchange, m.queue);
        if (!m.nowait) this.send(id, { name: 'queue.bind-ok' });
        return;
      case 'queue.unbind':
        return this.send(id, { name: 'queue.unbind-ok' });
      case 'queue.purge':
        if (!m.nowait) this.send(id, { name: 'queue.purge-ok', messageCount: 0 });
        return;
      case 'queue.delete':
        if (!m.nowait) this.send(id, { name: 'queue.delete-ok', messageCount: 0 });
        return;
      case 'exchange.declare':
        if (!m.nowait) this.send(id, { name: 'exchange.declare-ok' });
        return;
      case 'exchange.delete':
        if (!m.nowait) this.send(id, { name: 'exchange.delete-ok' });
        return;
      case 'basic.consume': {
        const tag = m.consumerTag === '' ? `amq.ctag-ceiling-${++this.consumerSeq}` : m.consumerTag;
        this.owner.queue(m.queue).consumers.push({ conn: this, channel: id, tag });
        if (!m.nowait) this.send(id, { name: 'basic.consume-ok', consumerTag: tag });
        return;
      }
      case 'basic.cancel':
        this.owner.removeConsumers((c) => c.conn === this && c.tag === m.consumerTag);
        if (!m.nowait) this.send(id, { name: 'basic.cancel-ok', consumerTag: m.consumerTag });
        return;
      default:
        // Anything else is beyond a do-nothing endpoint.
        this.socket.destroy();
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const ceiling = new CeilingServer();
  const port = await ceiling.listen(Number(values.port), values.host as string);
  process.stdout.write(`ceiling listening amqp=${values.host}:${port}\n`);
  const stop = (): void => void ceiling.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`ceiling: ${String(err)}\n`);
    process.exit(1);
  });
}
