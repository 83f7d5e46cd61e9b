// SNS's HTTP/S delivery policy: the retry schedule of each phase, the effective
// policy from the topic's and the subscription's attributes, and validation with
// AWS's documented ranges (the 3,600 s limit on a whole schedule included).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkRetryPolicy,
  DEFAULT_CONTENT_TYPE,
  DEFAULT_RETRY_POLICY,
  effectiveDeliveryPolicy,
  effectiveDeliveryPolicyJson,
  retrySchedule,
  validateSubscriptionDeliveryPolicy,
  validateTopicDeliveryPolicy,
} from '../../../../../src/server/aws/sns/delivery-policy.js';
import { AwsError } from '../../../../../src/server/aws/errors.js';
import { DEFAULT_HTTP_DELIVERY_POLICY } from '../../../../../src/server/aws/sns/subscriptions.js';

/** AWS's sample policy (sns-message-delivery-retries): 3 immediate, 2 at 1 s, 10 backing off 1-60 s, 35 at 60 s. */
const AWS_SAMPLE = {
  healthyRetryPolicy: {
    minDelayTarget: 1,
    maxDelayTarget: 60,
    numRetries: 50,
    numNoDelayRetries: 3,
    numMinDelayRetries: 2,
    numMaxDelayRetries: 35,
    backoffFunction: 'exponential',
  },
  throttlePolicy: { maxReceivesPerSecond: 10 },
};

function invalidParameter(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AwsError);
    assert.equal(err.code, 'InvalidParameter');
    assert.equal(err.status, 400);
    return err.message;
  }
  return 'no error';
}

describe('SNS delivery policy', () => {
  it('defaults to three retries 20 s apart, text/plain, no throttling', () => {
    const p = effectiveDeliveryPolicy(undefined, undefined);
    assert.deepEqual(p.healthyRetryPolicy, DEFAULT_RETRY_POLICY);
    assert.deepEqual(retrySchedule(p.healthyRetryPolicy), [20, 20, 20]);
    assert.equal(p.headerContentType, DEFAULT_CONTENT_TYPE);
    assert.equal(p.maxReceivesPerSecond, undefined);
  });

  it('AWS\'s sample policy: the phases in order, the backoff from min to max', () => {
    const p = effectiveDeliveryPolicy(undefined, JSON.stringify(AWS_SAMPLE));
    const s = retrySchedule(p.healthyRetryPolicy);
    assert.equal(s.length, 50);
    assert.deepEqual(s.slice(0, 5), [0, 0, 0, 1, 1]);
    const backoff = s.slice(5, 15);
    assert.equal(backoff[0], 1);
    assert.equal(backoff[9], 60);
    for (let i = 1; i < backoff.length; i++) assert.ok(backoff[i] >= backoff[i - 1], 'the backoff never shrinks');
    assert.deepEqual(s.slice(15), new Array(35).fill(60));
    assert.equal(p.maxReceivesPerSecond, 10);
  });

  it('the four backoff functions, flattest to steepest, share their end points', () => {
    const mid = (f: string): number => {
      const s = retrySchedule({ ...DEFAULT_RETRY_POLICY, numRetries: 11, minDelayTarget: 5, maxDelayTarget: 260, backoffFunction: f as 'linear' });
      assert.equal(s[0], 5);
      assert.equal(s[10], 260);
      return s[5];
    };
    const [linear, arithmetic, geometric, exponential] = ['linear', 'arithmetic', 'geometric', 'exponential'].map(mid);
    assert.equal(linear, 132.5);
    assert.ok(linear > arithmetic && arithmetic > geometric && geometric > exponential);
  });

  it('takes each field from the subscription, else the topic\'s http defaults, else SNS\'s defaults', () => {
    const topic = { http: { defaultHealthyRetryPolicy: { numRetries: 5, minDelayTarget: 2, maxDelayTarget: 10 }, defaultRequestPolicy: { headerContentType: 'application/xml' } } };
    const sub = { healthyRetryPolicy: { numRetries: 1 }, throttlePolicy: { maxReceivesPerSecond: 3 } };
    const p = effectiveDeliveryPolicy(JSON.stringify(topic), sub);
    assert.deepEqual(p.healthyRetryPolicy, { ...DEFAULT_RETRY_POLICY, numRetries: 1, minDelayTarget: 2, maxDelayTarget: 10 });
    assert.equal(p.headerContentType, 'application/xml');
    assert.equal(p.maxReceivesPerSecond, 3);
    const locked = effectiveDeliveryPolicy({ http: { ...topic.http, disableSubscriptionOverrides: true } }, sub);
    assert.equal(locked.healthyRetryPolicy.numRetries, 5);
    assert.equal(locked.maxReceivesPerSecond, undefined);
  });

  it('a policy that is not JSON or out of range falls back to the defaults instead of failing pushes', () => {
    assert.deepEqual(effectiveDeliveryPolicy('{nope', '[]').healthyRetryPolicy, DEFAULT_RETRY_POLICY);
    assert.deepEqual(effectiveDeliveryPolicy(undefined, { healthyRetryPolicy: { numRetries: 1000 } }).healthyRetryPolicy, DEFAULT_RETRY_POLICY);
    assert.equal(effectiveDeliveryPolicy(undefined, { requestPolicy: { headerContentType: 'not a type' } }).headerContentType, DEFAULT_CONTENT_TYPE);
  });

  it('validates with AWS\'s ranges and the 3,600 s limit', () => {
    assert.equal(invalidParameter(() => validateSubscriptionDeliveryPolicy(JSON.stringify(AWS_SAMPLE))), 'no error');
    assert.equal(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"healthyRetryPolicy":{"numRetries":5}}')), 'no error');
    assert.equal(invalidParameter(() => validateTopicDeliveryPolicy('{"http":{"defaultHealthyRetryPolicy":{"numRetries":5},"disableSubscriptionOverrides":false}}')), 'no error');
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{')), /^Invalid parameter: DeliveryPolicy: /);
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"healthyRetryPolicy":{"numRetries":101}}')), /numRetries/);
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"healthyRetryPolicy":{"minDelayTarget":30,"maxDelayTarget":20}}')), /minDelayTarget/);
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"healthyRetryPolicy":{"backoffFunction":"cubic"}}')), /backoffFunction/);
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"healthyRetryPolicy":{"numRetries":2,"numNoDelayRetries":3}}')), /numNoDelayRetries/);
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"healthyRetryPolicy":{"numRetries":2,"minDelayTarget":3600,"maxDelayTarget":3600}}')), /3600 s/);
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"throttlePolicy":{"maxReceivesPerSecond":0}}')), /maxReceivesPerSecond/);
    assert.match(invalidParameter(() => validateSubscriptionDeliveryPolicy('{"unknown":1}')), /unknown/);
    assert.match(invalidParameter(() => validateTopicDeliveryPolicy('{"http":{"disableSubscriptionOverrides":"yes"}}')), /disableSubscriptionOverrides/);
    assert.throws(() => checkRetryPolicy({ ...DEFAULT_RETRY_POLICY, numRetries: 1.5 }), AwsError);
  });

  it('EffectiveDeliveryPolicy in SNS\'s shape: the default as SNS shows it, the merged fields otherwise', () => {
    assert.equal(effectiveDeliveryPolicyJson(undefined, undefined), DEFAULT_HTTP_DELIVERY_POLICY);
    const merged = JSON.parse(effectiveDeliveryPolicyJson({ http: { defaultThrottlePolicy: { maxReceivesPerSecond: 5 } } }, { healthyRetryPolicy: { numRetries: 7 }, requestPolicy: { headerContentType: 'application/json' } })) as Record<string, unknown>;
    assert.deepEqual(merged, {
      healthyRetryPolicy: { minDelayTarget: 20, maxDelayTarget: 20, numRetries: 7, numMaxDelayRetries: 0, numNoDelayRetries: 0, numMinDelayRetries: 0, backoffFunction: 'linear' },
      sicklyRetryPolicy: null,
      throttlePolicy: { maxReceivesPerSecond: 5 },
      requestPolicy: { headerContentType: 'application/json' },
      guaranteed: false,
    });
  });
});
