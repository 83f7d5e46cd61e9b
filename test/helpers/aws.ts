// The AWS SDK v3 clients the SQS and SNS suites use against Wharf (the test key,
// us-east-1, no retries so a failure is seen as it is), how a rejected call is
// compared, and the names and ARNs those suites build.

import { SNSClient } from '@aws-sdk/client-sns';
import { errorTypeRegistries, SQSClient } from '@aws-sdk/client-sqs';
import { AwsQueryProtocol } from '@aws-sdk/core/protocols';
import type { Agent } from 'node:http';
import { uniqueName } from './async.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

export interface AwsClientOptions {
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** A keep-alive agent shared by many clients (the crash and long-poll suites). */
  readonly httpAgent?: Agent;
}

/** The AWS endpoint of a broker's listener on a port, or an endpoint URL as it is. */
export function awsEndpoint(port: number | string): string {
  return typeof port === 'string' ? port : `http://127.0.0.1:${port}`;
}

/** The client config both SDKs take: endpoint, region, the test key, one attempt. */
export function awsClientConfig(port: number | string, opts: AwsClientOptions = {}): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
  requestHandler?: { httpAgent: Agent };
} {
  return {
    endpoint: awsEndpoint(port),
    region: REGION,
    credentials: { accessKeyId: opts.accessKeyId ?? TEST_CREDENTIALS.accessKeyId, secretAccessKey: opts.secretAccessKey ?? TEST_CREDENTIALS.secretAccessKey },
    maxAttempts: 1,
    ...(opts.httpAgent ? { requestHandler: { httpAgent: opts.httpAgent } } : {}),
  };
}

export function sqsClient(port: number | string, opts: AwsClientOptions = {}): SQSClient {
  return new SQSClient(awsClientConfig(port, opts));
}

/** An SQS client on the AWS query protocol (form bodies, XML answers) instead of AWS JSON. */
export function sqsQueryClient(port: number | string, opts: AwsClientOptions = {}): SQSClient {
  return new SQSClient({
    ...awsClientConfig(port, opts),
    protocol: AwsQueryProtocol,
    protocolSettings: { defaultNamespace: 'com.amazonaws.sqs', xmlNamespace: 'http://queue.amazonaws.com/doc/2012-11-05/', version: '2012-11-05', errorTypeRegistries },
  });
}

export function snsClient(port: number | string, opts: AwsClientOptions = {}): SNSClient {
  return new SNSClient(awsClientConfig(port, opts));
}

export interface Failure {
  readonly name: string;
  readonly message: string;
}

/** How a call failed, as {name, message} ({name: 'no error', message: ''} if it did not). */
export async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    const e = err as Error;
    return { name: e.name, message: e.message };
  }
  return { name: 'no error', message: '' };
}

/** How a call failed, as "Name: message" ('no error' if it did not). */
export async function failureText(p: Promise<unknown>): Promise<string> {
  const f = await failure(p);
  return f.name === 'no error' ? f.name : `${f.name}: ${f.message}`;
}

/** The error name a call fails with ('no error' if it does not). */
export async function errorName(p: Promise<unknown>): Promise<string> {
  return (await failure(p)).name;
}

/** A unique queue or topic name (AWS allows no dots outside a FIFO queue's `.fifo`). */
export const safeName = (prefix: string): string => uniqueName(prefix).replace(/\./g, '-');

/** The ARN of an SQS queue of this name. */
export const sqsArn = (name: string): string => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
