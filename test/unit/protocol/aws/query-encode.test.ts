// The query codec's reply side: the XML AWS sends, checked against the parsers of the
// clients that read it: botocore's QueryParser (Debian's /usr/bin/python3, boto3 and
// the AWS CLI) must give back every result of every SQS and SNS action as encoded.

import fc from 'fast-check';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { SNS_MODEL, SQS_MODEL, encodeQueryError, encodeQueryResponse, escapeXml, type ServiceModel } from '../../../../src/protocol/aws/index.js';
import { shapeValue } from './arbitraries.js';

const PYTHON = '/usr/bin/python3';

describe('query replies', () => {
  it('a result inside <ActionResult>, then the request id, in the service\'s namespace', () => {
    const xml = encodeQueryResponse(SQS_MODEL, 'SendMessage', { MessageId: 'm-1', MD5OfMessageBody: 'abc', Unknown: 'x' }, 'r-1');
    assert.equal(xml,
      '<?xml version="1.0"?><SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageResult>' +
      '<MD5OfMessageBody>abc</MD5OfMessageBody><MessageId>m-1</MessageId></SendMessageResult>' +
      '<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></SendMessageResponse>');
  });

  it('no result element when the action has no output', () => {
    assert.equal(encodeQueryResponse(SQS_MODEL, 'DeleteQueue', {}, 'r'),
      '<?xml version="1.0"?><DeleteQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteQueueResponse>');
  });

  it('flattened lists and maps (SQS ReceiveMessage) and wrapped ones (SNS ListTopics, GetTopicAttributes)', () => {
    const rm = encodeQueryResponse(SQS_MODEL, 'ReceiveMessage', {
      Messages: [{ MessageId: 'm', Body: 'b', Attributes: { SentTimestamp: '1' }, MessageAttributes: { k: { DataType: 'Binary', BinaryValue: 'AAE=' } } }],
    }, 'r');
    assert.match(rm, /<ReceiveMessageResult><Message><MessageId>m<\/MessageId><Body>b<\/Body><Attribute><Name>SentTimestamp<\/Name><Value>1<\/Value><\/Attribute><MessageAttribute><Name>k<\/Name><Value><BinaryValue>AAE=<\/BinaryValue><DataType>Binary<\/DataType><\/Value><\/MessageAttribute><\/Message><\/ReceiveMessageResult>/);
    const lt = encodeQueryResponse(SNS_MODEL, 'ListTopics', { Topics: [{ TopicArn: 'a' }, { TopicArn: 'b' }] }, 'r');
    assert.match(lt, /<ListTopicsResponse xmlns="http:\/\/sns\.amazonaws\.com\/doc\/2010-03-31\/"><ListTopicsResult><Topics><member><TopicArn>a<\/TopicArn><\/member><member><TopicArn>b<\/TopicArn><\/member><\/Topics><\/ListTopicsResult>/);
    const ga = encodeQueryResponse(SNS_MODEL, 'GetTopicAttributes', { Attributes: { Owner: '0' } }, 'r');
    assert.match(ga, /<Attributes><entry><key>Owner<\/key><value>0<\/value><\/entry><\/Attributes>/);
  });

  it('an ErrorResponse with Type, Code, Message, Detail and RequestId', () => {
    assert.equal(encodeQueryError(SQS_MODEL, { code: 'AWS.SimpleQueueService.NonExistentQueue', message: 'The specified queue does not exist.', fault: 'Sender' }, 'r'),
      '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type>' +
      '<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message><Detail/></Error>' +
      '<RequestId>r</RequestId></ErrorResponse>');
  });

  it('escapes markup, and CR and control characters as references so parsers keep them', () => {
    assert.equal(escapeXml('a<b>&"\'\r\n\t'), 'a&lt;b&gt;&amp;&quot;&apos;&#xD;\n\t');
  });

  it('characters XML cannot carry become U+FFFD (a parser would refuse the whole reply)', () => {
    assert.equal(escapeXml('a\u0001b\uFFFEc\uD800d\uD83D\uDE00'), 'a\uFFFDb\uFFFDc\uFFFDd\uD83D\uDE00');
  });
});

/** Turns what botocore parsed (bytes as base64, datetimes as epoch seconds) and what was encoded into one comparable form. */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(normalize);
    return items.length === 0 ? undefined : items;
  }
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v).map(([k, x]) => [k, normalize(x)] as const).filter(([, x]) => x !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(entries);
  }
  // What XML cannot carry comes back as U+FFFD (escapeXml).
  return typeof v === 'string' ? v.replace(NOT_XML, '\uFFFD') : v;
}

// eslint-disable-next-line no-control-regex -- control characters are what this matches
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

const PARSE = `
import json, sys, base64, datetime
import botocore.session
from botocore.parsers import QueryParser
session = botocore.session.get_session()
def plain(v):
    if isinstance(v, bytes): return base64.b64encode(v).decode()
    if isinstance(v, datetime.datetime): return v.timestamp()
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list): return [plain(x) for x in v]
    return v
out = []
for case in json.load(sys.stdin):
    op = session.get_service_model(case['service']).operation_model(case['action'])
    parsed = QueryParser().parse({'body': case['xml'].encode(), 'headers': {}, 'status_code': 200}, op.output_shape)
    parsed.pop('ResponseMetadata', None)
    out.append(plain(parsed))
print(json.dumps(out))
`;

describe('query replies: botocore reads back every result', () => {
  const models: [string, ServiceModel][] = [['sqs', SQS_MODEL], ['sns', SNS_MODEL]];
  for (const [service, model] of models) {
    it(`${service}: random results of every action with an output`, () => {
      const actions = Object.keys(model.operations).filter((a) => model.operations[a].output !== undefined);
      const cases = fc.sample(fc.constantFrom(...actions).chain((action) => shapeValue(model, model.operations[action].output!).map((result) => ({ action, result }))), { numRuns: 200, seed: 15 });
      const input = cases.map((c) => ({ service, action: c.action, xml: encodeQueryResponse(model, c.action, c.result, 'req') }));
      const run = spawnSync(PYTHON, ['-c', PARSE], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      assert.equal(run.status, 0, run.stderr);
      const parsed = JSON.parse(run.stdout) as unknown[];
      assert.equal(parsed.length, cases.length);
      cases.forEach((c, i) => assert.deepEqual(normalize(parsed[i]), normalize(c.result), `${c.action}: ${input[i].xml}`));
    });
  }
});
