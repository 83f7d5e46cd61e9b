// The Kafka client's bootstrap list parsing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KafkaClientError, parseBootstrap } from '../../../src/client/kafka/index.js';

describe('Kafka client: bootstrap addresses', () => {
  it('host:port lists, IPv6 in brackets, spaces and empty items ignored', () => {
    assert.deepEqual(parseBootstrap('127.0.0.1:9092'), [{ host: '127.0.0.1', port: 9092 }]);
    assert.deepEqual(parseBootstrap(' a:1, b.example:65535 ,,[::1]:9093'), [
      { host: 'a', port: 1 },
      { host: 'b.example', port: 65535 },
      { host: '::1', port: 9093 },
    ]);
  });

  it('refuses an address without a valid port, and an empty list', () => {
    for (const bad of ['localhost', 'h:0', 'h:65536', 'h:x', '::1:9092', '']) {
      assert.throws(() => parseBootstrap(bad), KafkaClientError, bad);
    }
  });
});
