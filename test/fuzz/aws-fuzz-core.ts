// The signing and sending loop shared by the AWS query protocol fuzz suites
// (aws-query.test.ts for SQS, aws-sns-query.test.ts for SNS) and the random forms they
// send (botocore-modelled params, junk keys and values, junk bodies): an SDK v3 client whose
// request body is swapped for a random form before it is signed, and whose raw HTTP
// answer is taken before the SDK parses it for the action it thinks it sent. Every
// answer must be XML in the service's namespace, a result or a Sender ErrorResponse,
// with a status below 500.

import fc from 'fast-check';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import assert from 'node:assert/strict';
import type { ServiceModel } from '../../src/protocol/aws/index.js';
import { queryForm, shapeValue } from '../unit/protocol/aws/arbitraries.js';

type Pairs = [string, string][];

export interface FormSpec {
  readonly model: ServiceModel;
  readonly actions: readonly string[];
  /** The API version every modelled form carries. */
  readonly version: string;
  /** Whether the junk forms (a random Action and junk pairs) carry the version too. */
  readonly junkFormVersion: boolean;
  readonly junkKeys: readonly string[];
  readonly junkValues: readonly string[];
  /** A modelled form's pairs after Action and Version: its params (`real`: point them at a real resource) and junk. */
  pairs(params: Pairs, real: boolean, junk: Pairs): Pairs;
}

/** Random query forms: 6 in 9 modelled by the service's model, 2 junk pairs under an action, 1 a junk body. */
export function queryForms(spec: FormSpec): fc.Arbitrary<string> {
  const junkKey = fc.array(fc.constantFrom(...spec.junkKeys), { minLength: 1, maxLength: 5 }).map((s) => s.join('.'));
  const junkValue = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...spec.junkValues));
  const modelled = fc.constantFrom(...spec.actions).chain((action) => {
    const input = spec.model.operations[action].input;
    const params = input === undefined ? fc.constant<Pairs>([]) : shapeValue(spec.model, input).map((v) => queryForm(spec.model, input, v));
    return fc.tuple(fc.constant(action), params, fc.boolean(), fc.array(fc.tuple(junkKey, junkValue), { maxLength: 4 }));
  }).map(([action, params, real, junk]) => new URLSearchParams([['Action', action], ['Version', spec.version], ...spec.pairs(params, real, junk)]).toString());
  const version: Pairs = spec.junkFormVersion ? [['Version', spec.version]] : [];
  const junkForm = fc.tuple(fc.constantFrom(...spec.actions, 'Nope', ''), fc.array(fc.tuple(junkKey, junkValue), { maxLength: 8 }))
    .map(([action, pairs]) => new URLSearchParams([['Action', action], ...version, ...pairs]).toString());
  const junkBody = fc.oneof(fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('latin1')));
  return fc.oneof({ weight: 6, arbitrary: modelled }, { weight: 2, arbitrary: junkForm }, { weight: 1, arbitrary: junkBody });
}

class Answer extends Error {
  constructor(readonly status: number, readonly contentType: string, readonly body: string) {
    super('answer');
  }
}


/**
 * Sends every form of `forms` (numRuns 300, seed 15) through `client` with `send` (any
 * call of the client: its body is replaced by the form before signing) and checks each
 * raw answer against `xmlns`. Returns how many answers had each status.
 */
export async function fuzzSignedForms(client: SQSClient | SNSClient, send: () => Promise<unknown>, forms: fc.Arbitrary<string>, xmlns: string): Promise<Map<number, number>> {
  let form = '';
  // The two clients' stacks differ only in their input and output types, which the loop does not read.
  const stack = client.middlewareStack as SQSClient['middlewareStack'];
  stack.add((next) => (args) => {
    const request = args.request as { body: string; headers: Record<string, string> };
    request.body = form;
    request.headers['content-length'] = String(Buffer.byteLength(form));
    return next(args);
  }, { step: 'build', priority: 'low' });
  stack.add((next) => async (args) => {
    // The raw HTTP answer, before the SDK parses it for the action it thinks it sent.
    const { response } = (await next(args)) as unknown as { response: { statusCode: number; headers: Record<string, string>; body: AsyncIterable<Uint8Array> } };
    const chunks: Buffer[] = [];
    for await (const c of response.body) chunks.push(Buffer.from(c));
    throw new Answer(response.statusCode, response.headers['content-type'] ?? '', Buffer.concat(chunks).toString('utf8'));
  }, { step: 'deserialize', priority: 'low' });
  const ns = xmlns.replace(/[.?/]/g, '\\$&');
  const result = new RegExp(`^<\\?xml version="1\\.0"\\?><\\w+Response xmlns="${ns}">`);
  const error = new RegExp(`^<\\?xml version="1\\.0"\\?><ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>[\\w.]+</Code>`);
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(forms, async (f) => {
      form = f;
      const answer = await send().then(() => undefined, (err: unknown) => err);
      assert.ok(answer instanceof Answer, `no raw answer: ${String(answer)}`);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      assert.ok(answer.status < 500, `${answer.status} for ${f}: ${answer.body}`);
      assert.equal(answer.contentType, 'text/xml');
      assert.match(answer.body, answer.status === 200 ? result : error);
    }),
    { numRuns: 300, seed: 15 },
  );
  return statuses;
}
