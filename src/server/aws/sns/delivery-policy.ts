// SNS's HTTP/S delivery policy: how often and how far apart a failed push is
// retried, how fast a subscription may be pushed to, and the Content-Type it gets.
// AWS documents the four phases of a retry policy (docs.aws.amazon.com/sns/latest/dg/
// sns-message-delivery-retries.html): numNoDelayRetries at once, numMinDelayRetries
// minDelayTarget apart, the backoff phase (numRetries minus the other three) from
// minDelayTarget to maxDelayTarget along backoffFunction, then numMaxDelayRetries
// maxDelayTarget apart. Default: 3 retries, 20 s apart. The whole schedule may not
// exceed 3,600 s.
//
// A topic's policy is {"http": {"defaultHealthyRetryPolicy", "defaultThrottlePolicy",
// "defaultRequestPolicy", "disableSubscriptionOverrides"}}; a subscription's is
// {"healthyRetryPolicy", "throttlePolicy", "requestPolicy"}. The effective policy
// takes each field from the subscription, else the topic, else the default (unless
// the topic disables subscription overrides).

import { AwsError } from '../errors.js';

export type BackoffFunction = 'linear' | 'arithmetic' | 'geometric' | 'exponential';

export interface RetryPolicy {
  readonly minDelayTarget: number;
  readonly maxDelayTarget: number;
  readonly numRetries: number;
  readonly numNoDelayRetries: number;
  readonly numMinDelayRetries: number;
  readonly numMaxDelayRetries: number;
  readonly backoffFunction: BackoffFunction;
}

export interface EffectiveDeliveryPolicy {
  readonly healthyRetryPolicy: RetryPolicy;
  /** Pushes per second at most; undefined: no throttling (AWS's default). */
  readonly maxReceivesPerSecond: number | undefined;
  /** The Content-Type header of every push. */
  readonly headerContentType: string;
}

/** AWS's default HTTP/S retry policy: up to three retries, 20 s apart. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  minDelayTarget: 20,
  maxDelayTarget: 20,
  numRetries: 3,
  numNoDelayRetries: 0,
  numMinDelayRetries: 0,
  numMaxDelayRetries: 0,
  backoffFunction: 'linear',
};

/** What SNS sends when the policy names no content type. */
export const DEFAULT_CONTENT_TYPE = 'text/plain; charset=UTF-8';
/** AWS's hard limit on a policy's whole retry schedule (s). */
export const RETRY_TIME_MAX_S = 3600;
const RETRIES_MAX = 100;
const BACKOFF_FUNCTIONS: readonly BackoffFunction[] = ['linear', 'arithmetic', 'geometric', 'exponential'];
const RETRY_KEYS = ['minDelayTarget', 'maxDelayTarget', 'numRetries', 'numNoDelayRetries', 'numMinDelayRetries', 'numMaxDelayRetries', 'backoffFunction'] as const;

type Json = Record<string, unknown>;

const invalid = (reason: string): AwsError => new AwsError('InvalidParameter', `Invalid parameter: DeliveryPolicy: ${reason}`);

function asObject(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

/** Parses a policy given as a JSON string (or already parsed); undefined for none. Never throws. */
function parsed(policy: unknown): Json | undefined {
  if (typeof policy !== 'string') return asObject(policy);
  try {
    return asObject(JSON.parse(policy));
  } catch {
    return undefined;
  }
}

/**
 * The policy a subscription's pushes follow, from the topic's and the subscription's
 * DeliveryPolicy attributes (JSON strings or parsed objects). Fields that are missing
 * or out of range fall back (the SNS API validates what it stores with validate*).
 */
export function effectiveDeliveryPolicy(topicPolicy: unknown, subscriptionPolicy: unknown): EffectiveDeliveryPolicy {
  const http = asObject(parsed(topicPolicy)?.http) ?? {};
  const sub = http.disableSubscriptionOverrides === true ? {} : (parsed(subscriptionPolicy) ?? {});
  const retry: Record<string, unknown> = { ...DEFAULT_RETRY_POLICY };
  for (const layer of [asObject(http.defaultHealthyRetryPolicy), asObject(sub.healthyRetryPolicy)]) {
    for (const k of RETRY_KEYS) if (layer?.[k] !== undefined && layer[k] !== null) retry[k] = layer[k];
  }
  const healthyRetryPolicy = retryPolicyOrNull(retry) ?? DEFAULT_RETRY_POLICY;
  const throttle = asObject(sub.throttlePolicy)?.maxReceivesPerSecond ?? asObject(http.defaultThrottlePolicy)?.maxReceivesPerSecond;
  const contentType = asObject(sub.requestPolicy)?.headerContentType ?? asObject(http.defaultRequestPolicy)?.headerContentType;
  return {
    healthyRetryPolicy,
    maxReceivesPerSecond: Number.isInteger(throttle) && (throttle as number) >= 1 ? (throttle as number) : undefined,
    headerContentType: typeof contentType === 'string' && isContentType(contentType) ? contentType : DEFAULT_CONTENT_TYPE,
  };
}

function retryPolicyOrNull(r: Record<string, unknown>): RetryPolicy | undefined {
  try {
    return checkRetryPolicy(r);
  } catch {
    return undefined;
  }
}

/** Checks a subscription's DeliveryPolicy attribute (SetSubscriptionAttributes); throws SNS's InvalidParameter. */
export function validateSubscriptionDeliveryPolicy(text: string): void {
  const p = parseOrThrow(text);
  checkKeys(p, ['healthyRetryPolicy', 'throttlePolicy', 'requestPolicy', 'sicklyRetryPolicy', 'guaranteed']);
  checkParts(p.healthyRetryPolicy, p.throttlePolicy, p.requestPolicy, '');
}

/** Checks a topic's DeliveryPolicy attribute (CreateTopic, SetTopicAttributes); throws SNS's InvalidParameter. */
export function validateTopicDeliveryPolicy(text: string): void {
  const p = parseOrThrow(text);
  if (p.http === undefined) return;
  const http = asObject(p.http);
  if (!http) throw invalid('http must be an object');
  checkKeys(http, ['defaultHealthyRetryPolicy', 'defaultThrottlePolicy', 'defaultRequestPolicy', 'disableSubscriptionOverrides', 'defaultSicklyRetryPolicy']);
  if (http.disableSubscriptionOverrides !== undefined && typeof http.disableSubscriptionOverrides !== 'boolean') {
    throw invalid('disableSubscriptionOverrides must be a boolean');
  }
  checkParts(http.defaultHealthyRetryPolicy, http.defaultThrottlePolicy, http.defaultRequestPolicy, 'default');
}

function parseOrThrow(text: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw invalid('Invalid JSON');
  }
  const o = asObject(v);
  if (!o) throw invalid('must be a JSON object');
  return o;
}

function checkKeys(o: Json, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw invalid(`Unknown field ${k}`);
}

function checkParts(retry: unknown, throttle: unknown, request: unknown, prefix: string): void {
  if (retry !== undefined && retry !== null) {
    const r = asObject(retry);
    if (!r) throw invalid(`${prefix ? 'defaultHealthyRetryPolicy' : 'healthyRetryPolicy'} must be an object`);
    checkKeys(r, RETRY_KEYS);
    checkRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...withoutNulls(r) });
  }
  if (throttle !== undefined && throttle !== null) {
    const t = asObject(throttle);
    const max = t?.maxReceivesPerSecond;
    if (!t || (max !== undefined && !(Number.isInteger(max) && (max as number) >= 1))) throw invalid('maxReceivesPerSecond must be an integer of at least 1');
  }
  if (request !== undefined && request !== null) {
    const ct = asObject(request)?.headerContentType;
    if (ct !== undefined && !(typeof ct === 'string' && isContentType(ct))) throw invalid(`headerContentType ${String(ct)} is not a supported content type`);
  }
}

function withoutNulls(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
}

function isContentType(s: string): boolean {
  return /^[a-z]+\/[A-Za-z0-9.+-]+(;\s*charset=[A-Za-z0-9_-]+)?$/.test(s);
}

/** The retry policy with AWS's constraints checked (documented ranges and the 3,600 s schedule limit). */
export function checkRetryPolicy(r: Record<string, unknown>): RetryPolicy {
  const int = (k: string, min: number, max: number): number => {
    const v = r[k];
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw invalid(`${k} must be an integer between ${min} and ${max}`);
    return v as number;
  };
  const maxDelayTarget = int('maxDelayTarget', 1, RETRY_TIME_MAX_S);
  const minDelayTarget = int('minDelayTarget', 1, maxDelayTarget);
  const numRetries = int('numRetries', 0, RETRIES_MAX);
  const numNoDelayRetries = int('numNoDelayRetries', 0, RETRIES_MAX);
  const numMinDelayRetries = int('numMinDelayRetries', 0, RETRIES_MAX);
  const numMaxDelayRetries = int('numMaxDelayRetries', 0, RETRIES_MAX);
  if (numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries > numRetries) {
    throw invalid('numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries must not exceed numRetries');
  }
  const backoffFunction = r.backoffFunction;
  if (!BACKOFF_FUNCTIONS.includes(backoffFunction as BackoffFunction)) throw invalid(`backoffFunction must be one of ${BACKOFF_FUNCTIONS.join(', ')}`);
  const policy: RetryPolicy = {
    minDelayTarget,
    maxDelayTarget,
    numRetries,
    numNoDelayRetries,
    numMinDelayRetries,
    numMaxDelayRetries,
    backoffFunction: backoffFunction as BackoffFunction,
  };
  const total = retrySchedule(policy).reduce((a, b) => a + b, 0);
  if (total > RETRY_TIME_MAX_S) throw invalid(`the total retry time (${Math.round(total)} s) must not exceed ${RETRY_TIME_MAX_S} s`);
  return policy;
}

/**
 * The delay (s, before jitter) before each retry, in order: numRetries entries.
 * In the backoff phase the first delay is minDelayTarget and the last maxDelayTarget
 * (as AWS documents); between them the curve is the backoff function's. AWS draws the
 * four curves but gives no formulas: Wharf uses t, t², t³ and 2^(10t) (normalised) over
 * t from 0 to 1, in AWS's order from the flattest (linear) to the steepest (exponential).
 */
export function retrySchedule(p: RetryPolicy): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.numNoDelayRetries; i++) out.push(0);
  for (let i = 0; i < p.numMinDelayRetries; i++) out.push(p.minDelayTarget);
  const backoff = p.numRetries - p.numNoDelayRetries - p.numMinDelayRetries - p.numMaxDelayRetries;
  for (let i = 0; i < backoff; i++) {
    const t = backoff === 1 ? 0 : i / (backoff - 1);
    out.push(p.minDelayTarget + (p.maxDelayTarget - p.minDelayTarget) * curve(p.backoffFunction, t));
  }
  for (let i = 0; i < p.numMaxDelayRetries; i++) out.push(p.maxDelayTarget);
  return out;
}

function curve(f: BackoffFunction, t: number): number {
  switch (f) {
    case 'linear':
      return t;
    case 'arithmetic':
      return t * t;
    case 'geometric':
      return t * t * t;
    case 'exponential':
      return (2 ** (10 * t) - 1) / (2 ** 10 - 1);
  }
}

/**
 * A subscription's EffectiveDeliveryPolicy attribute, in the shape SNS shows it: every
 * healthyRetryPolicy field, sicklyRetryPolicy null, the throttle policy or null, the
 * request policy when a content type is set, and guaranteed false.
 */
export function effectiveDeliveryPolicyJson(topicPolicy: unknown, subscriptionPolicy: unknown): string {
  const p = effectiveDeliveryPolicy(topicPolicy, subscriptionPolicy);
  const r = p.healthyRetryPolicy;
  return JSON.stringify({
    healthyRetryPolicy: {
      minDelayTarget: r.minDelayTarget,
      maxDelayTarget: r.maxDelayTarget,
      numRetries: r.numRetries,
      numMaxDelayRetries: r.numMaxDelayRetries,
      numNoDelayRetries: r.numNoDelayRetries,
      numMinDelayRetries: r.numMinDelayRetries,
      backoffFunction: r.backoffFunction,
    },
    sicklyRetryPolicy: null,
    throttlePolicy: p.maxReceivesPerSecond === undefined ? null : { maxReceivesPerSecond: p.maxReceivesPerSecond },
    ...(p.headerContentType !== DEFAULT_CONTENT_TYPE ? { requestPolicy: { headerContentType: p.headerContentType } } : {}),
    guaranteed: false,
  });
}
