// Every transaction error kind has Kafka's code, and the version rules give older clients the
// codes they understand.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TXN_ERROR_KINDS } from '../../../../src/broker/stream/txn/index.js';
import { ErrorCode } from '../../../../src/protocol/kafka/index.js';
import { txnErrorCode } from '../../../../src/server/kafka/handlers/transactions.js';

test('transaction error kinds map to the Kafka error of the same name', () => {
  for (const kind of TXN_ERROR_KINDS) {
    const name = kind.toUpperCase().replace(/-/g, '_') as keyof typeof ErrorCode;
    assert.equal(txnErrorCode(kind), ErrorCode[name], kind);
  }
  assert.equal(txnErrorCode(undefined), ErrorCode.NONE);
});

test('older versions get the older codes', () => {
  assert.equal(txnErrorCode('producer-fenced', { fencedAsEpoch: true }), ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal(txnErrorCode('transaction-abortable', { abortableAsTxnState: true }), ErrorCode.INVALID_TXN_STATE);
  assert.equal(txnErrorCode('concurrent-transactions', { fencedAsEpoch: true, abortableAsTxnState: true }), ErrorCode.CONCURRENT_TRANSACTIONS);
});
