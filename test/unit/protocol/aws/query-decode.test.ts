// The query codec's request side: the forms botocore's QuerySerializer writes (the
// fixtures below are its output for these calls, botocore 1.29) decode into the
// params AWS JSON carries; lists written either way, empty lists, maps, typed scalars;
// bad values are the query protocol's errors, and nothing else ever escapes. Random
// params of every action, serialized by botocore itself (Debian's /usr/bin/python3),
// decode back to what they were.

import fc from 'fast-check';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { QueryProtocolError, SNS_MODEL, SQS_MODEL, decodeQuery, parseForm, type ServiceModel } from '../../../../src/protocol/aws/index.js';
import { queryForm, shapeValue } from './arbitraries.js';

const form = (o: Record<string, string | number>): Map<string, string> => new Map(Object.entries(o).map(([k, v]) => [k, String(v)]));

function queryError(f: () => unknown): QueryProtocolError {
  try {
    f();
  } catch (err) {
    if (err instanceof QueryProtocolError) return err;
    throw err;
  }
  assert.fail('no error');
}

describe('query decoding (SQS, as botocore serializes)', () => {
  it('SendMessage: flattened MessageAttribute.N.Name/Value with base64 binary', () => {
    const p = decodeQuery(SQS_MODEL, 'SendMessage', form({
      Action: 'SendMessage', Version: '2012-11-05', QueueUrl: 'http://h/000000000000/q', MessageBody: 'a b&c', DelaySeconds: 5,
      'MessageAttribute.1.Name': 's', 'MessageAttribute.1.Value.DataType': 'String', 'MessageAttribute.1.Value.StringValue': 'x',
      'MessageAttribute.2.Name': 'b', 'MessageAttribute.2.Value.DataType': 'Binary', 'MessageAttribute.2.Value.BinaryValue': 'AP8=',
    }));
    assert.deepEqual(p, {
      QueueUrl: 'http://h/000000000000/q', MessageBody: 'a b&c', DelaySeconds: 5,
      MessageAttributes: { s: { DataType: 'String', StringValue: 'x' }, b: { DataType: 'Binary', BinaryValue: 'AP8=' } },
    });
  });

  it('ReceiveMessage: flattened lists renamed to the member name (AttributeName.1)', () => {
    const p = decodeQuery(SQS_MODEL, 'ReceiveMessage', form({
      QueueUrl: 'u', 'AttributeName.1': 'All', 'MessageAttributeName.1': 'a', 'MessageAttributeName.2': 'b.*', MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
    }));
    assert.deepEqual(p, { QueueUrl: 'u', AttributeNames: ['All'], MessageAttributeNames: ['a', 'b.*'], MaxNumberOfMessages: 10, WaitTimeSeconds: 0 });
  });

  it('CreateQueue: Attribute.N.Name/Value and Tag.N.Key/Value maps', () => {
    const p = decodeQuery(SQS_MODEL, 'CreateQueue', form({
      QueueName: 'q', 'Attribute.1.Name': 'VisibilityTimeout', 'Attribute.1.Value': '45', 'Attribute.2.Name': 'DelaySeconds', 'Attribute.2.Value': '0', 'Tag.1.Key': 't', 'Tag.1.Value': 'v',
    }));
    assert.deepEqual(p, { QueueName: 'q', Attributes: { VisibilityTimeout: '45', DelaySeconds: '0' }, tags: { t: 'v' } });
  });

  it('SendMessageBatch: flattened entries with nested attribute maps, in index order', () => {
    const p = decodeQuery(SQS_MODEL, 'SendMessageBatch', form({
      QueueUrl: 'u',
      'SendMessageBatchRequestEntry.2.Id': '2', 'SendMessageBatchRequestEntry.2.MessageBody': 'y',
      'SendMessageBatchRequestEntry.2.MessageAttribute.1.Name': 'n', 'SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType': 'Number',
      'SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue': '1',
      'SendMessageBatchRequestEntry.10.Id': '10', 'SendMessageBatchRequestEntry.10.MessageBody': 'z',
      'SendMessageBatchRequestEntry.1.Id': '1', 'SendMessageBatchRequestEntry.1.MessageBody': 'x',
    }));
    assert.deepEqual(p, {
      QueueUrl: 'u',
      Entries: [
        { Id: '1', MessageBody: 'x' },
        { Id: '2', MessageBody: 'y', MessageAttributes: { n: { DataType: 'Number', StringValue: '1' } } },
        { Id: '10', MessageBody: 'z' },
      ],
    });
  });

  it('TagQueue: the map named by its shape\'s locationName (Tag.N.Key/Value)', () => {
    assert.deepEqual(decodeQuery(SQS_MODEL, 'TagQueue', form({ QueueUrl: 'u', 'Tag.1.Key': 'a', 'Tag.1.Value': 'b' })), { QueueUrl: 'u', Tags: { a: 'b' } });
  });

  it('an empty list is the bare key with an empty value (UntagQueue TagKeys=)', () => {
    assert.deepEqual(decodeQuery(SQS_MODEL, 'UntagQueue', form({ QueueUrl: 'u', TagKeys: '' })), { QueueUrl: 'u', TagKeys: [] });
  });

  it('lists written the other way round are read too (AttributeNames.member.1)', () => {
    assert.deepEqual(decodeQuery(SQS_MODEL, 'GetQueueAttributes', form({ QueueUrl: 'u', 'AttributeNames.member.1': 'All' })), { QueueUrl: 'u', AttributeNames: ['All'] });
    assert.deepEqual(decodeQuery(SNS_MODEL, 'UntagResource', form({ ResourceArn: 'a', 'TagKeys.1': 'k' })), { ResourceArn: 'a', TagKeys: ['k'] });
  });
});

describe('query decoding (SNS, as botocore serializes)', () => {
  it('Publish: MessageAttributes.entry.N.Name/Value', () => {
    const p = decodeQuery(SNS_MODEL, 'Publish', form({
      Action: 'Publish', Version: '2010-03-31', TopicArn: 'arn', Message: 'm',
      'MessageAttributes.entry.1.Name': 'k', 'MessageAttributes.entry.1.Value.DataType': 'String', 'MessageAttributes.entry.1.Value.StringValue': 'v',
    }));
    assert.deepEqual(p, { TopicArn: 'arn', Message: 'm', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } });
  });

  it('CreateTopic: Attributes.entry.N.key/value and Tags.member.N', () => {
    const p = decodeQuery(SNS_MODEL, 'CreateTopic', form({ Name: 't', 'Attributes.entry.1.key': 'FifoTopic', 'Attributes.entry.1.value': 'true', 'Tags.member.1.Key': 'a', 'Tags.member.1.Value': 'b' }));
    assert.deepEqual(p, { Name: 't', Attributes: { FifoTopic: 'true' }, Tags: [{ Key: 'a', Value: 'b' }] });
  });

  it('Subscribe: booleans; PublishBatch: members with nested maps and blobs', () => {
    assert.deepEqual(decodeQuery(SNS_MODEL, 'Subscribe', form({ TopicArn: 'arn', Protocol: 'sqs', Endpoint: 'e', ReturnSubscriptionArn: 'true' })), {
      TopicArn: 'arn', Protocol: 'sqs', Endpoint: 'e', ReturnSubscriptionArn: true,
    });
    const p = decodeQuery(SNS_MODEL, 'PublishBatch', form({
      TopicArn: 'arn', 'PublishBatchRequestEntries.member.1.Id': '1', 'PublishBatchRequestEntries.member.1.Message': 'm',
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name': 'k', 'PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.DataType': 'Binary',
      'PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.BinaryValue': 'YWI=',
    }));
    assert.deepEqual(p, { TopicArn: 'arn', PublishBatchRequestEntries: [{ Id: '1', Message: 'm', MessageAttributes: { k: { DataType: 'Binary', BinaryValue: 'YWI=' } } }] });
  });
});

describe('query decoding: bad input', () => {
  it('an unknown action is InvalidAction with AWS\'s text', () => {
    const e = queryError(() => decodeQuery(SQS_MODEL, 'Frobnicate', form({})));
    assert.equal(e.code, 'InvalidAction');
    assert.equal(e.message, 'The action Frobnicate is not valid for this endpoint.');
    assert.equal(queryError(() => decodeQuery(SQS_MODEL, 'toString', form({}))).code, 'InvalidAction');
  });

  it('a non-integer, a non-boolean and bad base64 are InvalidParameterValue naming the parameter', () => {
    const e = queryError(() => decodeQuery(SQS_MODEL, 'ReceiveMessage', form({ QueueUrl: 'u', MaxNumberOfMessages: 'ten' })));
    assert.equal(e.code, 'InvalidParameterValue');
    assert.equal(e.message, 'Value ten for parameter MaxNumberOfMessages is invalid. Reason: must be an integer.');
    assert.equal(queryError(() => decodeQuery(SNS_MODEL, 'Subscribe', form({ ReturnSubscriptionArn: 'yes' }))).code, 'InvalidParameterValue');
    const b = queryError(() => decodeQuery(SQS_MODEL, 'SendMessage', form({ 'MessageAttribute.1.Name': 'b', 'MessageAttribute.1.Value.BinaryValue': '!!' })));
    assert.match(b.message, /parameter MessageAttribute\.1\.Value\.BinaryValue is invalid/);
  });

  it('a map entry without its name is MissingParameter', () => {
    const e = queryError(() => decodeQuery(SQS_MODEL, 'CreateQueue', form({ QueueName: 'q', 'Attribute.1.Value': '4' })));
    assert.equal(e.code, 'MissingParameter');
    assert.equal(e.message, 'The request must contain the parameter Attribute.1.Name.');
  });

  it('map keys from the client are plain keys, never prototypes', () => {
    const p = decodeQuery(SQS_MODEL, 'CreateQueue', form({ QueueName: 'q', 'Attribute.1.Name': '__proto__', 'Attribute.1.Value': 'x' }));
    const attrs = p.Attributes as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(attrs), Object.prototype);
    assert.deepEqual(Object.keys(attrs), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it('keys deeper than any model are ignored', () => {
    assert.deepEqual(decodeQuery(SQS_MODEL, 'GetQueueUrl', form({ QueueName: 'q', [`QueueName${'.x'.repeat(100_000)}`]: 'deep' })), { QueueName: 'q' });
  });

  it('parseForm reads + as a space and keeps malformed escapes', () => {
    assert.deepEqual([...parseForm('Action=SendMessage&MessageBody=a+b%26c%zz&Empty=')], [['Action', 'SendMessage'], ['MessageBody', 'a b&c%zz'], ['Empty', '']]);
  });
});

/** botocore's QuerySerializer over JSON-shaped params (blobs from base64 to bytes first); prints each form as pairs. */
const SERIALIZE = `
import json, sys, base64
import botocore.session
from botocore import serialize
session = botocore.session.get_session()
def native(shape, v):
    t = shape.type_name
    if t == 'structure': return {k: native(shape.members[k], x) for k, x in v.items()}
    if t == 'list': return [native(shape.member, x) for x in v]
    if t == 'map': return {k: native(shape.value, x) for k, x in v.items()}
    if t == 'blob': return base64.b64decode(v)
    return v
out = []
for case in json.load(sys.stdin):
    model = session.get_service_model(case['service'])
    op = model.operation_model(case['action'])
    body = serialize.create_serializer('query', include_validation=False).serialize_to_request(native(op.input_shape, case['params']), op)['body']
    out.append([[k, v if isinstance(v, str) else json.dumps(v) if isinstance(v, bool) else str(v)] for k, v in body.items()])
print(json.dumps(out))
`;

describe('query decoding: what botocore itself serializes', () => {
  const models: [string, ServiceModel][] = [['sqs', SQS_MODEL], ['sns', SNS_MODEL]];
  for (const [service, model] of models) {
    it(`${service}: random params of every action, serialized by botocore's QuerySerializer, decode back`, () => {
      const actions = Object.keys(model.operations).filter((a) => model.operations[a].input !== undefined);
      const cases = fc.sample(fc.constantFrom(...actions).chain((action) => shapeValue(model, model.operations[action].input!).map((params) => ({ action, params }))), { numRuns: 200, seed: 15 });
      const run = spawnSync('/usr/bin/python3', ['-c', SERIALIZE], { input: JSON.stringify(cases.map((c) => ({ service, ...c }))), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      assert.equal(run.status, 0, run.stderr);
      const forms = JSON.parse(run.stdout) as [string, string][][];
      assert.equal(forms.length, cases.length);
      cases.forEach((c, i) => {
        assert.deepEqual(decodeQuery(model, c.action, new Map(forms[i])), c.params, `${c.action}: ${JSON.stringify(forms[i])}`);
      });
    });
  }
});

describe('query decoding: properties', () => {
  const models: [string, ServiceModel][] = [['sqs', SQS_MODEL], ['sns', SNS_MODEL]];
  for (const [name, model] of models) {
    const actions = Object.keys(model.operations);

    it(`${name}: what botocore's rules serialize decodes back to the same params, for every action`, () => {
      const withInput = actions.filter((a) => model.operations[a].input !== undefined);
      const arb = fc.constantFrom(...withInput).chain((action) => shapeValue(model, model.operations[action].input!).map((params) => ({ action, params })));
      fc.assert(
        fc.property(arb, ({ action, params }) => {
          const encoded = queryForm(model, model.operations[action].input!, params);
          const wire = new URLSearchParams([['Action', action], ...encoded]).toString();
          assert.deepEqual(decodeQuery(model, action, parseForm(wire)), params);
        }),
        { numRuns: 300 },
      );
    });

    it(`${name}: decoding any form throws nothing but a QueryProtocolError`, () => {
      const segment = fc.constantFrom('member', 'entry', 'Name', 'Value', 'key', 'value', '1', '2', '0', '01', '__proto__', 'constructor', '', ...Object.keys(model.shapes).slice(0, 40), 'Attribute', 'MessageAttribute', 'AttributeName', 'Entries', 'Tags', 'Attributes', 'MessageAttributes');
      const key = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('.'));
      const value = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('true', 'false', '1', '-1', '1e3', 'AA==', ''));
      fc.assert(
        fc.property(fc.constantFrom(...actions, 'Nope'), fc.array(fc.tuple(key, value), { maxLength: 30 }), (action, pairs) => {
          try {
            decodeQuery(model, action, new Map(pairs));
          } catch (err) {
            assert.ok(err instanceof QueryProtocolError, String(err));
          }
        }),
        { numRuns: 500 },
      );
    });
  }
});
