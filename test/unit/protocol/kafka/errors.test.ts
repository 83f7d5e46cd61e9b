// Kafka's error catalog: complete up to the highest code, unique, and with the
// values Kafka's Errors enum gives the codes Wharf's adapter uses most.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, KAFKA_ERRORS, errorCodeName, isRetriableError, kafkaErrorInfo } from '../../../../src/protocol/kafka/index.js';

test('codes -1 to 128 are all defined except 99, which Kafka does not use', () => {
  for (let code = -1; code <= 128; code++) assert.equal(kafkaErrorInfo(code) !== undefined, code !== 99, `code ${code}`);
  assert.equal(KAFKA_ERRORS.length, 129);
});

test('codes and names are unique and ErrorCode agrees with the catalog', () => {
  assert.equal(new Set(KAFKA_ERRORS.map((e) => e.code)).size, KAFKA_ERRORS.length);
  assert.equal(new Set(KAFKA_ERRORS.map((e) => e.name)).size, KAFKA_ERRORS.length);
  for (const e of KAFKA_ERRORS) assert.equal(ErrorCode[e.name], e.code);
  for (const e of KAFKA_ERRORS) if (e.code !== 0) assert.ok(e.message.length > 0, `${e.name} has a message`);
});

test('well-known codes, names and retriable flags', () => {
  const expect: [string, number, boolean][] = [
    ['UNKNOWN_SERVER_ERROR', -1, false],
    ['NONE', 0, false],
    ['OFFSET_OUT_OF_RANGE', 1, false],
    ['CORRUPT_MESSAGE', 2, true],
    ['UNKNOWN_TOPIC_OR_PARTITION', 3, true],
    ['LEADER_NOT_AVAILABLE', 5, true],
    ['NOT_LEADER_OR_FOLLOWER', 6, true],
    ['REQUEST_TIMED_OUT', 7, true],
    ['MESSAGE_TOO_LARGE', 10, false],
    ['COORDINATOR_NOT_AVAILABLE', 15, true],
    ['NOT_COORDINATOR', 16, true],
    ['ILLEGAL_GENERATION', 22, false],
    ['UNKNOWN_MEMBER_ID', 25, false],
    ['REBALANCE_IN_PROGRESS', 27, false],
    ['TOPIC_AUTHORIZATION_FAILED', 29, false],
    ['UNSUPPORTED_SASL_MECHANISM', 33, false],
    ['UNSUPPORTED_VERSION', 35, false],
    ['TOPIC_ALREADY_EXISTS', 36, false],
    ['INVALID_REQUEST', 42, false],
    ['SASL_AUTHENTICATION_FAILED', 58, false],
    ['MEMBER_ID_REQUIRED', 79, false],
    ['UNKNOWN_TOPIC_ID', 100, true],
    ['INVALID_REGULAR_EXPRESSION', 128, false],
  ];
  for (const [name, code, retriable] of expect) {
    assert.equal(ErrorCode[name as keyof typeof ErrorCode], code, name);
    assert.equal(errorCodeName(code), name);
    assert.equal(isRetriableError(code), retriable, `${name} retriable`);
  }
  assert.equal(kafkaErrorInfo(3)?.message, 'This server does not host this topic-partition.');
  assert.equal(errorCodeName(99), 'UNKNOWN_ERROR_CODE_99');
  assert.equal(isRetriableError(1000), false);
});
