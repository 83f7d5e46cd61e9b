// The SQS API over the AWS query protocol (form-encoded Action=..., XML replies), driven
// by the clients that speak it: Debian's boto3 1.26 (botocore 1.29) and AWS CLI 2.9, run
// by absolute path with no user configuration (helpers/aws-query.ts). Raw requests are
// signed with botocore's own SigV4Auth to reach what the SDKs never send: unknown and
// missing actions, requests posted to a queue's URL, GET, bad signatures. AWS SDK v3's
// SQS client, switched onto its query protocol (AwsQueryProtocol from @aws-sdk/core, which
// @aws-sdk/client-sqs depends on), checks the MD5s of what it sends and receives.

import * as sqs from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { useBroker } from '../../helpers/amqplib.js';
import { safeName as queueName, sqsQueryClient } from '../../helpers/aws.js';
import { awsCli, boto3 } from '../../helpers/aws-query.js';
import { skipUnderReference } from '../../helpers/broker.js';

const OPTS = { timeout: 120_000 } as const;

const QUEUES = `
import boto3, json, sys
from botocore.exceptions import ClientError
ep, name = sys.argv[1], sys.argv[2]
sqs = boto3.client('sqs', endpoint_url=ep)
out = {}
url = sqs.create_queue(QueueName=name, Attributes={'VisibilityTimeout': '45'})['QueueUrl']
out['url'] = url
out['again'] = sqs.create_queue(QueueName=name, Attributes={'VisibilityTimeout': '45'})['QueueUrl']
try:
    sqs.create_queue(QueueName=name, Attributes={'VisibilityTimeout': '10'})
except ClientError as e:
    out['exists'] = e.response['Error']['Code']
out['got'] = sqs.get_queue_url(QueueName=name)['QueueUrl']
out['listed'] = sqs.list_queues(QueueNamePrefix=name).get('QueueUrls')
out['attrs'] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['All'])['Attributes']
out['some'] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['VisibilityTimeout', 'QueueArn'])['Attributes']
for i in range(3):
    sqs.create_queue(QueueName=name + '-p' + str(i))
page = sqs.list_queues(QueueNamePrefix=name + '-p', MaxResults=2)
page2 = sqs.list_queues(QueueNamePrefix=name + '-p', MaxResults=2, NextToken=page['NextToken'])
out['pages'] = [page['QueueUrls'], page2['QueueUrls'], 'NextToken' in page2]
pages = sqs.get_paginator('list_queues').paginate(QueueNamePrefix=name + '-p', PaginationConfig={'PageSize': 1})
out['paginated'] = [u for p in pages for u in p.get('QueueUrls', [])]
out['none'] = 'QueueUrls' in sqs.list_queues(QueueNamePrefix=name + '-none')
sqs.delete_queue(QueueUrl=url)
try:
    sqs.get_queue_url(QueueName=name)
except sqs.exceptions.QueueDoesNotExist as e:
    out['gone'] = [type(e).__name__, e.response['Error']['Code'], e.response['Error']['Type'], e.response['Error']['Message'], e.response['ResponseMetadata']['HTTPStatusCode']]
try:
    sqs.create_queue(QueueName='bad name!')
except ClientError as e:
    out['badName'] = e.response['Error']['Code']
print(json.dumps(out))
`;

const MESSAGES = `
import boto3, json, sys, hashlib, struct
ep, name = sys.argv[1], sys.argv[2]
sqs = boto3.client('sqs', endpoint_url=ep)
url = sqs.create_queue(QueueName=name)['QueueUrl']
def md5_attrs(attrs):
    # SQS's digest of message attributes, as AWS documents it: by name, each length-prefixed, 1 for strings, 2 for binary
    h = hashlib.md5()
    def put(b):
        h.update(struct.pack('!I', len(b)))
        h.update(b)
    for k in sorted(attrs):
        a = attrs[k]
        put(k.encode())
        put(a['DataType'].encode())
        if 'BinaryValue' in a:
            h.update(b'\\x02')
            put(a['BinaryValue'])
        else:
            h.update(b'\\x01')
            put(a['StringValue'].encode())
    return h.hexdigest()
body = 'h\\u00e9llo\\r\\n<wharf> & "sqs" \\U0001F680'
attrs = {'s': {'DataType': 'String', 'StringValue': 'x y'}, 'n': {'DataType': 'Number', 'StringValue': '12.5'},
         'b': {'DataType': 'Binary', 'BinaryValue': b'\\x00\\x01\\xff'}, 'c': {'DataType': 'String.custom', 'StringValue': 'c&<'}}
sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
out = {'md5Body': sent['MD5OfMessageBody'] == hashlib.md5(body.encode()).hexdigest(), 'md5Attrs': sent['MD5OfMessageAttributes'] == md5_attrs(attrs)}
r = sqs.receive_message(QueueUrl=url, MessageAttributeNames=['All'], AttributeNames=['All'], MaxNumberOfMessages=10, VisibilityTimeout=30)
m = r['Messages'][0]
out['count'] = len(r['Messages'])
out['sameId'] = m['MessageId'] == sent['MessageId']
out['sameBody'] = m['Body'] == body
out['sameAttrs'] = m['MessageAttributes'] == attrs
out['md5s'] = [m['MD5OfBody'] == sent['MD5OfMessageBody'], m['MD5OfMessageAttributes'] == sent['MD5OfMessageAttributes']]
out['system'] = sorted(m['Attributes'].keys())
out['receives'] = [m['Attributes']['ApproximateReceiveCount']]
out['hidden'] = 'Messages' in sqs.receive_message(QueueUrl=url)
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m['ReceiptHandle'], VisibilityTimeout=0)
m2 = sqs.receive_message(QueueUrl=url, AttributeNames=['ApproximateReceiveCount'], MessageAttributeNames=['s', 'b'])['Messages'][0]
out['receives'].append(m2['Attributes']['ApproximateReceiveCount'])
out['some'] = sorted(m2['MessageAttributes'].keys())
sqs.delete_message(QueueUrl=url, ReceiptHandle=m2['ReceiptHandle'])
out['afterDelete'] = 'Messages' in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
sqs.send_message(QueueUrl=url, MessageBody='purged')
sqs.purge_queue(QueueUrl=url)
out['afterPurge'] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['ApproximateNumberOfMessages'])['Attributes']
print(json.dumps(out))
`;

const BATCHES = `
import boto3, json, sys
from botocore.exceptions import ClientError
ep, name = sys.argv[1], sys.argv[2]
sqs = boto3.client('sqs', endpoint_url=ep)
url = sqs.create_queue(QueueName=name)['QueueUrl']
out = {}
res = sqs.send_message_batch(QueueUrl=url, Entries=[
    {'Id': 'a', 'MessageBody': 'one'},
    {'Id': 'b', 'MessageBody': 'two', 'MessageAttributes': {'n': {'DataType': 'Number', 'StringValue': 'not a number'}}},
    {'Id': 'c', 'MessageBody': 'three', 'MessageAttributes': {'k': {'DataType': 'String', 'StringValue': 'v'}}},
])
out['sent'] = sorted(e['Id'] for e in res['Successful'])
out['sentMd5'] = all(len(e['MD5OfMessageBody']) == 32 and e['MessageId'] for e in res['Successful'])
out['failed'] = [[f['Id'], f['Code'], f['SenderFault'], f['Message']] for f in res['Failed']]
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)['Messages']
out['bodies'] = sorted(m['Body'] for m in got)
entries = [{'Id': 'm' + str(i), 'ReceiptHandle': m['ReceiptHandle']} for i, m in enumerate(got)] + [{'Id': 'bad', 'ReceiptHandle': 'garbage'}]
res = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
out['deleted'] = sorted(e['Id'] for e in res['Successful'])
out['notDeleted'] = [[f['Id'], f['Code'], f['SenderFault']] for f in res['Failed']]
try:
    sqs.send_message_batch(QueueUrl=url, Entries=[{'Id': 'x', 'MessageBody': '1'}, {'Id': 'x', 'MessageBody': '2'}])
except sqs.exceptions.BatchEntryIdsNotDistinct as e:
    out['distinct'] = [type(e).__name__, e.response['Error']['Code']]
try:
    sqs.send_message_batch(QueueUrl=url, Entries=[{'Id': str(i), 'MessageBody': 'x'} for i in range(11)])
except sqs.exceptions.TooManyEntriesInBatchRequest as e:
    out['tooMany'] = type(e).__name__
except ClientError as e:
    out['tooMany'] = e.response['Error']['Code']
print(json.dumps(out))
`;

/** Raw requests signed with botocore's SigV4Auth; prints [status, content type, body] for each. */
const RAW = `
import json, sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
ep, name = sys.argv[1], sys.argv[2]
FORM = {'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'}
def send(method, url, body=None, headers={}):
    r = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(r) as resp:
            return [resp.status, resp.headers['Content-Type'], resp.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.headers['Content-Type'], e.read().decode()]
def call(method, url, body=None, secret='test'):
    req = AWSRequest(method=method, url=url, data=body, headers=dict(FORM) if body is not None else {})
    SigV4Auth(Credentials('test', secret), 'sqs', 'us-east-1').add_auth(req)
    p = req.prepare()
    return send(method, p.url, p.body, dict(p.headers))
out = {}
out['create'] = call('POST', ep + '/', 'Action=CreateQueue&Version=2012-11-05&QueueName=' + name)
qurl = ep + '/000000000000/' + name
out['toPath'] = call('POST', qurl, 'Action=SendMessage&Version=2012-11-05&MessageBody=via+the+path')
out['get'] = call('GET', ep + '/?Action=GetQueueUrl&Version=2012-11-05&QueueName=' + name)
out['getReceive'] = call('GET', qurl + '?Action=ReceiveMessage&Version=2012-11-05&VisibilityTimeout=0')
out['unknown'] = call('POST', ep + '/', 'Action=Frobnicate&Version=2012-11-05')
out['missing'] = call('POST', ep + '/', 'Version=2012-11-05&QueueName=x')
out['badInt'] = call('POST', ep + '/', 'Action=ReceiveMessage&Version=2012-11-05&QueueUrl=' + qurl + '&MaxNumberOfMessages=ten')
out['noQueue'] = call('POST', ep + '/', 'Action=GetQueueUrl&Version=2012-11-05&QueueName=' + name + '-nope')
out['badSignature'] = call('POST', ep + '/', 'Action=ListQueues&Version=2012-11-05', secret='wrong')
out['unsigned'] = send('POST', ep + '/', 'Action=ListQueues&Version=2012-11-05', FORM)
print(json.dumps(out))
`;

describe('SQS over the query protocol (boto3 1.26, AWS CLI 2.9)', { skip: skipUnderReference }, () => {
  const ctx = useBroker({ awsPort: 0 });
  const endpoint = (): string => `http://127.0.0.1:${ctx.broker.handle.awsPort ?? 0}`;

  it('boto3: creates (twice is fine), finds, lists with pages, reads attributes of and deletes queues; QueueDoesNotExist is its exception class', OPTS, async () => {
    const name = queueName('boto-q');
    const out = await boto3(QUEUES, [endpoint(), name]);
    const url = `${endpoint()}/000000000000/${name}`;
    assert.equal(out.url, url);
    assert.equal(out.again, url);
    assert.equal(out.exists, 'QueueAlreadyExists');
    assert.equal(out.got, url);
    assert.deepEqual(out.listed, [url]);
    const attrs = out.attrs as Record<string, string>;
    assert.equal(attrs.VisibilityTimeout, '45');
    assert.equal(attrs.QueueArn, `arn:aws:sqs:us-east-1:000000000000:${name}`);
    assert.equal(attrs.ApproximateNumberOfMessages, '0');
    assert.deepEqual(out.some, { VisibilityTimeout: '45', QueueArn: `arn:aws:sqs:us-east-1:000000000000:${name}` });
    const p = (i: number): string => `${url}-p${i}`;
    assert.deepEqual(out.pages, [[p(0), p(1)], [p(2)], false]);
    assert.deepEqual(out.paginated, [p(0), p(1), p(2)]);
    assert.equal(out.none, false);
    // AWS's query protocol words it so (AWS JSON: "The specified queue does not exist.").
    assert.deepEqual(out.gone, ['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'Sender', 'The specified queue does not exist for this wsdl version.', 400]);
    assert.equal(out.badName, 'InvalidParameterValue');
  });

  it('boto3: sends with message attributes (MD5s as AWS computes them), receives, changes visibility, deletes, purges', OPTS, async () => {
    const out = await boto3(MESSAGES, [endpoint(), queueName('boto-m')]);
    assert.equal(out.md5Body, true);
    assert.equal(out.md5Attrs, true);
    assert.equal(out.count, 1);
    assert.equal(out.sameId, true);
    assert.equal(out.sameBody, true, 'the body, CR LF, markup and an astral character included, comes back as sent');
    assert.equal(out.sameAttrs, true, 'String, Number, Binary and custom types come back as sent');
    assert.deepEqual(out.md5s, [true, true]);
    assert.deepEqual(out.system, ['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp']);
    assert.deepEqual(out.receives, ['1', '2']);
    assert.equal(out.hidden, false);
    assert.deepEqual(out.some, ['b', 's']);
    assert.equal(out.afterDelete, false);
    assert.deepEqual(out.afterPurge, { ApproximateNumberOfMessages: '0' });
  });

  it('boto3: batches with per-entry failures, and the batch errors as their exception classes', OPTS, async () => {
    const out = await boto3(BATCHES, [endpoint(), queueName('boto-b')]);
    assert.deepEqual(out.sent, ['a', 'c']);
    assert.equal(out.sentMd5, true);
    assert.deepEqual(out.failed, [['b', 'InvalidParameterValue', true, "Can't cast the value of message attribute 'n' to a number."]]);
    assert.deepEqual(out.bodies, ['one', 'three']);
    assert.deepEqual(out.deleted, ['m0', 'm1']);
    assert.deepEqual(out.notDeleted, [['bad', 'ReceiptHandleIsInvalid', true]]);
    assert.deepEqual(out.distinct, ['BatchEntryIdsNotDistinct', 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct']);
    assert.equal(out.tooMany, 'TooManyEntriesInBatchRequest');
  });

  it('raw requests: posted to the queue URL, GET, unknown and missing actions, bad values and signatures, all answered in XML', OPTS, async () => {
    const name = queueName('raw-q');
    const out = (await boto3(RAW, [endpoint(), name])) as Record<string, [number, string, string]>;
    const ok = (r: [number, string, string], action: string): string => {
      assert.equal(r[0], 200, r[2]);
      assert.equal(r[1], 'text/xml');
      assert.match(r[2], new RegExp(`^<\\?xml version="1.0"\\?><${action}Response xmlns="http://queue.amazonaws.com/doc/2012-11-05/">`));
      assert.match(r[2], /<ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/\w+Response>$/);
      return r[2];
    };
    const error = (r: [number, string, string], status: number, code: string, message: string): void => {
      assert.equal(r[0], status, r[2]);
      assert.equal(r[1], 'text/xml');
      const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(r[2], new RegExp(`^<\\?xml version="1.0"\\?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>${code.replace(/\./g, '\\.')}</Code><Message>${escaped}</Message><Detail/></Error><RequestId>[0-9a-f-]{36}</RequestId></ErrorResponse>$`));
    };
    assert.match(ok(out.create, 'CreateQueue'), new RegExp(`<CreateQueueResult><QueueUrl>${endpoint()}/000000000000/${name}</QueueUrl></CreateQueueResult>`));
    assert.match(ok(out.toPath, 'SendMessage'), new RegExp(`<MD5OfMessageBody>${createHash('md5').update('via the path').digest('hex')}</MD5OfMessageBody>`));
    assert.match(ok(out.get, 'GetQueueUrl'), new RegExp(`<QueueUrl>${endpoint()}/000000000000/${name}</QueueUrl>`));
    assert.match(ok(out.getReceive, 'ReceiveMessage'), /<ReceiveMessageResult><Message><MessageId>[^<]+<\/MessageId><ReceiptHandle>[^<]+<\/ReceiptHandle><MD5OfBody>[0-9a-f]{32}<\/MD5OfBody><Body>via the path<\/Body>/);
    error(out.unknown, 400, 'InvalidAction', 'The action Frobnicate is not valid for this endpoint.');
    error(out.missing, 400, 'MissingAction', 'The request must contain the parameter Action.');
    error(out.badInt, 400, 'InvalidParameterValue', 'Value ten for parameter MaxNumberOfMessages is invalid. Reason: must be an integer.');
    error(out.noQueue, 400, 'AWS.SimpleQueueService.NonExistentQueue', 'The specified queue does not exist for this wsdl version.');
    error(out.badSignature, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
    error(out.unsigned, 403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
  });

  it('AWS SDK v3 on the query protocol: create, send with attributes, receive (the SDK checks the MD5s), errors as exception classes', OPTS, async () => {
    const client = sqsQueryClient(endpoint());
    const bodies: string[] = [];
    client.middlewareStack.add((next) => async (args) => {
      bodies.push(String((args.request as { body?: unknown }).body));
      return next(args);
    }, { step: 'finalizeRequest' });
    const name = queueName('v3-query');
    const { QueueUrl } = await client.send(new sqs.CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '31' } }));
    assert.equal(QueueUrl, `${endpoint()}/000000000000/${name}`);
    assert.match(bodies[0], /^Action=CreateQueue&Version=2012-11-05&QueueName=[^&]+&Attribute\.1\.Name=VisibilityTimeout&Attribute\.1\.Value=31$/, 'the client spoke the query protocol');
    const attributes = { s: { DataType: 'String', StringValue: 'x' }, b: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 255]) } };
    const sent = await client.send(new sqs.SendMessageCommand({ QueueUrl, MessageBody: 'v3 <query> \r\n', MessageAttributes: attributes }));
    const got = await client.send(new sqs.ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
    const [m] = got.Messages ?? [];
    assert.equal(m.MessageId, sent.MessageId);
    assert.equal(m.Body, 'v3 <query> \r\n');
    assert.equal(m.MD5OfMessageAttributes, sent.MD5OfMessageAttributes);
    assert.deepEqual(Buffer.from(m.MessageAttributes?.b.BinaryValue ?? []), Buffer.from([0, 1, 255]));
    assert.equal(m.Attributes?.ApproximateReceiveCount, '1');
    const batch = await client.send(new sqs.DeleteMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', ReceiptHandle: m.ReceiptHandle }, { Id: 'b', ReceiptHandle: 'forged' }] }));
    assert.deepEqual(batch.Successful, [{ Id: 'a' }]);
    assert.deepEqual(batch.Failed?.map((f) => [f.Id, f.Code, f.SenderFault]), [['b', 'ReceiptHandleIsInvalid', true]]);
    await assert.rejects(client.send(new sqs.GetQueueUrlCommand({ QueueName: `${name}-nope` })), (err: Error) => err instanceof sqs.QueueDoesNotExist);
  });

  it('the AWS CLI: create-queue, send-message with attributes, receive-message, delete-message, attributes, list; errors exit 254 with AWS\'s code', OPTS, async () => {
    const ep = endpoint();
    const name = queueName('cli-q');
    const cli = async (...args: string[]): Promise<Record<string, unknown>> => {
      const r = await awsCli(ep, ['sqs', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
    };
    const { QueueUrl: url } = await cli('create-queue', '--queue-name', name, '--attributes', 'VisibilityTimeout=40');
    assert.equal(url, `${ep}/000000000000/${name}`);
    const sent = await cli('send-message', '--queue-url', String(url), '--message-body', 'hello cli', '--message-attributes', '{"k":{"DataType":"String","StringValue":"v"}}');
    assert.equal(sent.MD5OfMessageBody, createHash('md5').update('hello cli').digest('hex'));
    const got = await cli('receive-message', '--queue-url', String(url), '--message-attribute-names', 'All', '--attribute-names', 'All');
    const [m] = got.Messages as Record<string, unknown>[];
    assert.equal(m.Body, 'hello cli');
    assert.equal(m.MessageId, sent.MessageId);
    assert.deepEqual(m.MessageAttributes, { k: { StringValue: 'v', DataType: 'String' } });
    assert.equal(m.MD5OfMessageAttributes, sent.MD5OfMessageAttributes);
    assert.equal((m.Attributes as Record<string, string>).ApproximateReceiveCount, '1');
    assert.deepEqual(await cli('delete-message', '--queue-url', String(url), '--receipt-handle', String(m.ReceiptHandle)), {});
    const attrs = await cli('get-queue-attributes', '--queue-url', String(url), '--attribute-names', 'All');
    assert.equal((attrs.Attributes as Record<string, string>).VisibilityTimeout, '40');
    assert.equal((attrs.Attributes as Record<string, string>).ApproximateNumberOfMessagesNotVisible, '0');
    assert.deepEqual((await cli('list-queues', '--queue-name-prefix', name)).QueueUrls, [url]);
    await cli('delete-queue', '--queue-url', String(url));
    const missing = await awsCli(ep, ['sqs', 'get-queue-url', '--queue-name', name]);
    assert.equal(missing.code, 254);
    assert.match(missing.stderr, /An error occurred \(AWS\.SimpleQueueService\.NonExistentQueue\) when calling the GetQueueUrl operation: The specified queue does not exist for this wsdl version\./);
    const badKey = await awsCli(ep, ['sqs', 'list-queues'], { AWS_SECRET_ACCESS_KEY: 'wrong' });
    assert.equal(badKey.code, 254);
    assert.match(badKey.stderr, /An error occurred \(SignatureDoesNotMatch\) when calling the ListQueues operation/);
  });
});
