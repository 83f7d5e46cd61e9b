// Session.consumerGone: a consumer whose queue is deleted stops getting messages at
// once and is told (DeliverySink.consumerCancelled) only when the deletion is on
// disk, as RabbitMQ's channels hear of a deleted queue once it is gone from the
// metadata store. Here the "disk" is a promise the test resolves. The view through
// real clients is in test/integration/queue-delete-cancel.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageStore } from '../../../src/broker/message-store.js';
import type { MessageContent } from '../../../src/broker/message.js';
import { Session, type DeliverySink } from '../../../src/broker/session.js';
import { Vhost } from '../../../src/broker/vhost.js';
import { openMemoryLog, silentLogger } from '../../../src/store/index.js';

class RecordingSink implements DeliverySink {
  readonly cancelled: string[] = [];
  delivered = 0;
  deliver(_tag: string, _deliveryTag: number, _redelivered: boolean, _content: MessageContent): void {
    this.delivered++;
  }
  writable(): boolean {
    return true;
  }
  stalled(): boolean {
    return false;
  }
  consumerCancelled(consumerTag: string): void {
    this.cancelled.push(consumerTag);
  }
  timedOut(): void {}
}

/** A vhost whose topology saves complete when the test says so. */
function setup(): { vhost: Vhost; session: Session; sink: RecordingSink; save: () => Promise<void> } {
  const store = new MessageStore(openMemoryLog());
  let finish: () => void = () => {};
  let saved: Promise<void> = Promise.resolve();
  let dirty = false;
  let ids = 1;
  const vhost = new Vhost('/', {
    store,
    delayed: { hold: () => undefined, holdLater: () => ({ queues: 0, needsSync: false, rejected: false }), pending: () => 0, dropExchange: () => {}, sync: () => Promise.resolve() },
    dedup: { record: () => {} },
    nextMessageId: () => ids++,
    nextQueueId: () => ids++,
    topologyChanged: () => {
      dirty = true;
    },
    topologySaved: () => {
      if (dirty) {
        dirty = false;
        saved = new Promise((resolve) => { finish = resolve; });
      }
      return saved;
    },
    queueError: () => {},
    consumerTimeoutMs: 0,
    streamEnv: { dir: '/nonexistent', fsync: 'never', logger: silentLogger },
    nextStreamId: () => ids++,
  });
  const sink = new RecordingSink();
  const session = new Session(vhost, store, 'conn-1', sink);
  return {
    vhost,
    session,
    sink,
    save: async () => {
      finish();
      await saved;
      // consumerGone tells the sink a turn of the event loop after the save (the deleting
      // channel's delete-ok goes first).
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const QUEUE = { passive: false, durable: true, exclusive: false, autoDelete: false, args: {} };
const CONSUME = { noAck: true, exclusive: false, args: {} };

function publish(vhost: Vhost, queue: string): void {
  vhost.publish({ exchange: '', routingKey: queue, mandatory: false, properties: Buffer.from([0, 0]), body: Buffer.from('m'), persistent: false, headers: undefined, priority: 0, expiration: -1, messageId: undefined });
}

describe('Session: consumers of a deleted queue', () => {
  it('tells the consumer only once the deletion is saved', async () => {
    const { vhost, session, sink, save } = setup();
    vhost.declareQueue('q', QUEUE, 'conn-1');
    session.consume('q', 'c1', CONSUME).start();
    publish(vhost, 'q');
    assert.equal(sink.delivered, 1);
    vhost.deleteQueue('q', { ifUnused: false, ifEmpty: false }, 'conn-1');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sink.cancelled, [], 'told before the deletion was saved');
    await save();
    assert.deepEqual(sink.cancelled, ['c1']);
  });

  it('keeps the tag taken until the consumer is told, as a RabbitMQ channel does until it sees the queue exit', async () => {
    const { vhost, session, sink, save } = setup();
    vhost.declareQueue('q', QUEUE, 'conn-1');
    vhost.declareQueue('q2', QUEUE, 'conn-1');
    session.consume('q', 'c1', CONSUME).start();
    vhost.deleteQueue('q', { ifUnused: false, ifEmpty: false }, 'conn-1');
    assert.throws(() => session.consume('q2', 'c1', CONSUME), /attempt to reuse consumer tag 'c1'/);
    await save();
    assert.deepEqual(sink.cancelled, ['c1']);
    session.consume('q2', 'c1', CONSUME).start();
  });

  it('tells nothing when the client cancelled meanwhile, or the channel closed', async () => {
    const { vhost, session, sink, save } = setup();
    const other = new Session(vhost, new MessageStore(openMemoryLog()), 'conn-1', sink);
    vhost.declareQueue('q', QUEUE, 'conn-1');
    session.consume('q', 'c1', CONSUME).start();
    other.consume('q', 'c2', CONSUME).start();
    vhost.deleteQueue('q', { ifUnused: false, ifEmpty: false }, 'conn-1');
    assert.equal(session.cancel('c1'), true);
    other.close();
    await save();
    assert.deepEqual(sink.cancelled, []);
  });
});
