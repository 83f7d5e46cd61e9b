// What every SNS action works with, and the ARNs and errors they share.

import type { Broker } from '../../../broker/broker.js';
import type { Exchange } from '../../../broker/exchange/exchange.js';
import type { Vhost } from '../../../broker/vhost.js';
import { AwsError } from '../errors.js';
import type { SnsSigningKey } from './signing.js';
import type { SnsTopics } from './topics.js';

export interface SnsContext {
  readonly broker: Broker;
  readonly vhost: Vhost;
  /** The vhost's topics and subscriptions (one for the listener's life). */
  readonly topics: SnsTopics;
  /** The key messages are signed with (made on first use). */
  readonly signingKey: () => Promise<SnsSigningKey>;
  /** http://host:port of the AWS listener: SigningCertURL, UnsubscribeURL, SubscribeURL. */
  readonly endpoint: string;
  readonly region: string;
  readonly account: string;
}

export type Params = Record<string, unknown>;

/** The connection id SNS's broker calls run under. */
export const SNS_CONNECTION = 'aws-sns';

export const topicNotFound = (): AwsError => new AwsError('NotFound', 'Topic does not exist', 404);
export const subscriptionNotFound = (): AwsError => new AwsError('NotFound', 'Subscription does not exist', 404);
export const invalidParameter = (detail: string): AwsError => new AwsError('InvalidParameter', `Invalid parameter: ${detail}`);

export function topicArn(ctx: SnsContext, name: string): string {
  return `arn:aws:sns:${ctx.region}:${ctx.account}:${name}`;
}

export function subscriptionArn(ctx: SnsContext, topic: string, id: string): string {
  return `${topicArn(ctx, topic)}:${id}`;
}

export function requiredString(p: Params, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw invalidParameter(`${key} Reason: no value for required parameter`);
  return v;
}

/** The topic name an ARN names, checked for form (InvalidParameter) and account. */
export function topicNameOf(ctx: SnsContext, arn: string, what = 'TopicArn'): string {
  const parts = arn.split(':');
  // AWS's text for an ARN with too few parts (arn:partition:service:region:account:resource).
  if (parts.length < 6) throw invalidParameter(`${what} Reason: An ARN must have at least 6 elements, not ${parts.length}`);
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sns' || parts[5] === '') throw invalidParameter(what);
  // AWS: a topic is reached only from its own region.
  if (parts[3] !== ctx.region) throw invalidParameter(what);
  if (parts[4] !== ctx.account) throw topicNotFound();
  return parts[5];
}

/** The topic a request's TopicArn (or other member) names; NotFound if there is none. */
export function topicOf(ctx: SnsContext, p: Params, key = 'TopicArn'): Exchange {
  const name = topicNameOf(ctx, requiredString(p, key), key);
  const ex = ctx.topics.topic(name);
  if (!ex) throw topicNotFound();
  return ex;
}

/** A page of a sorted list after the NextToken (base64url of the last key given). */
export function page<T>(items: readonly T[], keyOf: (t: T) => string, token: unknown, size: number): { items: T[]; next?: string } {
  const after = typeof token === 'string' && token !== '' ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
  const from = after === undefined ? items : items.filter((t) => keyOf(t) > after);
  const out = from.slice(0, size);
  return from.length > size ? { items: out, next: Buffer.from(keyOf(out[out.length - 1]), 'utf8').toString('base64url') } : { items: out };
}

/** A map member (Attributes, ...) as sent: an object of strings. */
export function stringMap(p: Params, key: string): Record<string, string> {
  const v = p[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParameter(key);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
}
