// The query codec's replies read by AWS SDK v3's own query-protocol deserializer
// (@aws-sdk/client-sns uses AwsQueryProtocol): each encoded result and error is handed
// to a real SNSClient as the HTTP response to the command of its action, and must
// come back as encoded. (SDK v3's SQS client speaks AWS JSON only.)

import * as sns from '@aws-sdk/client-sns';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SNS_MODEL, encodeQueryError, encodeQueryResponse } from '../../../../src/protocol/aws/index.js';
import { shapeValue } from './arbitraries.js';

interface Reply {
  status: number;
  xml: string;
}

function clientAnswering(reply: () => Reply): sns.SNSClient {
  return new sns.SNSClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async () => {
        const r = reply();
        return { response: { statusCode: r.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-1' }, body: new TextEncoder().encode(r.xml) } };
      },
    } as never,
  });
}

/** One comparable form: Uint8Array as base64, Date as epoch seconds, no empty lists or objects, no $metadata. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Date) return v.getTime() / 1000;
  if (Array.isArray(v)) {
    const items = v.map(normalize);
    return items.length === 0 ? undefined : items;
  }
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v).filter(([k]) => k !== '$metadata').map(([k, x]) => [k, normalize(x)] as const).filter(([, x]) => x !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(entries);
  }
  // eslint-disable-next-line no-control-regex -- what XML cannot carry comes back as U+FFFD
  return typeof v === 'string' ? v.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD') : v;
}

type CommandClass = new (input: object) => Parameters<sns.SNSClient['send']>[0];
const commandOf = (action: string): CommandClass => (sns as unknown as Record<string, CommandClass>)[`${action}Command`];

describe('query replies: AWS SDK v3 (SNS) reads back every result', () => {
  it('random results of every SNS action with an output', async () => {
    const actions = Object.keys(SNS_MODEL.operations).filter((a) => SNS_MODEL.operations[a].output !== undefined && commandOf(a) !== undefined);
    assert.ok(actions.length > 20);
    const cases = fc.sample(fc.constantFrom(...actions).chain((action) => shapeValue(SNS_MODEL, SNS_MODEL.operations[action].output!).map((result) => ({ action, result }))), { numRuns: 150, seed: 15 });
    let reply: Reply = { status: 200, xml: '' };
    const client = clientAnswering(() => reply);
    for (const c of cases) {
      reply = { status: 200, xml: encodeQueryResponse(SNS_MODEL, c.action, c.result, 'req-1') };
      const Command = commandOf(c.action);
      const out = await client.send(new Command({}));
      assert.deepEqual(normalize(out), normalize(c.result), `${c.action}: ${reply.xml}`);
    }
  });

  it('an ErrorResponse becomes the modelled exception, with its message and fault', async () => {
    const client = clientAnswering(() => ({ status: 404, xml: encodeQueryError(SNS_MODEL, { code: 'NotFound', message: 'Topic does not exist', fault: 'Sender' }, 'req-1') }));
    await assert.rejects(client.send(new sns.GetTopicAttributesCommand({ TopicArn: 'arn:aws:sns:us-east-1:000000000000:t' })), (err: Error & { $fault?: string }) => {
      assert.equal(err.name, 'NotFoundException');
      assert.equal(err.message, 'Topic does not exist');
      assert.equal(err.$fault, 'client');
      return true;
    });
  });
});
