// SNS and SQS services over a real broker in this process, for the SNS unit tests
// (the wire suites use the SDKs against the listener).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/broker.js';
import type { Vhost } from '../../src/broker/vhost.js';
import { SnsRegistry } from '../../src/server/aws/sns/registry.js';
import { SnsService } from '../../src/server/aws/sns/service.js';
import type { SnsTopics } from '../../src/server/aws/sns/topics.js';
import { SqsReceiver } from '../../src/server/aws/sqs/receiver.js';
import { SqsService } from '../../src/server/aws/sqs/service.js';
import { createLogger } from '../../src/util/logger.js';

export const ENDPOINT = 'http://127.0.0.1:4566';

export interface SnsWorld {
  readonly broker: Broker;
  readonly vhost: Vhost;
  readonly topics: SnsTopics;
  /** The listener's SNS state, as the unsigned links (sns/links.ts) use it. */
  readonly registry: SnsRegistry;
  readonly sns: SnsService;
  readonly sqs: SqsService;
  readonly certPem: string;
  /** Reads any queue (amq.sns.* included) as SQS's receiver does. */
  readonly receiver: SqsReceiver;
  /** Closes the broker and opens it again on the same data dir (new services). */
  reopen(): Promise<SnsWorld>;
  close(): Promise<void>;
}

export async function openSnsWorld(dataDir?: string): Promise<SnsWorld> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'wharf-sns-')));
  const broker = await Broker.open({ dataDir: dir, fsync: 'batch', logger: createLogger('silent') });
  const vhost = broker.vhost('/') as Vhost;
  const registry = new SnsRegistry(dir);
  const topics = registry.topics(vhost);
  const signingKey = await registry.signingKey();
  const receiver = new SqsReceiver(vhost, broker.store);
  const common = { broker, vhost, endpoint: ENDPOINT, region: 'us-east-1', account: '000000000000' };
  return {
    broker,
    vhost,
    topics,
    registry,
    sns: new SnsService({ ...common, topics, signingKey: () => Promise.resolve(signingKey) }),
    sqs: new SqsService({ ...common, receiver }),
    certPem: signingKey.certPem,
    receiver,
    async reopen() {
      receiver.close();
      await broker.close();
      return openSnsWorld(dir);
    },
    async close() {
      receiver.close();
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The AWS error code a call fails with ('no error' if it does not). */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  return 'no error';
}
