// The AWS services the listener serves, each a table of action handlers over a
// service object made per request, with what both wire protocols need to find it:
// AWS JSON's X-Amz-Target prefix and error namespace, the SigV4 signing name the
// query protocol goes by, and the botocore model the query codec walks.
//

import { SNS_MODEL, SQS_MODEL, type ServiceModel } from '../../protocol/aws/index.js';
import { SnsService, type SnsContext } from './sns/service.js';
import { cancelMessageMoveTask, listDeadLetterSourceQueues, listMessageMoveTasks, listQueueTags, startMessageMoveTask, tagQueue, untagQueue } from './sqs/redrive.js';
import { SqsService, type SqsContext } from './sqs/service.js';

export type Params = Record<string, unknown>;

/** What a request gives a service: the broker and vhost of the access key, the endpoint, region and account. */
export type AwsContext = SqsContext & SnsContext;

export interface AwsServiceDefinition<S> {
  /** The SigV4 credential scope's service name (sqs, sns). */
  readonly signingName: string;
  /** AWS JSON's X-Amz-Target prefix (AmazonSQS), when the service speaks AWS JSON. */
  readonly jsonTargetPrefix?: string;
  /** AWS JSON's error __type namespace (com.amazonaws.sqs#). */
  readonly jsonErrorPrefix: string;
  /** AWS JSON's __type for query codes it names otherwise (SQS: InvalidParameterValue is InvalidParameterValueException). */
  readonly jsonErrorCodes?: Readonly<Record<string, string>>;
  readonly model: ServiceModel;
  readonly create: (ctx: AwsContext) => S;
  readonly actions: Readonly<Record<string, (svc: S, params: Params) => unknown>>;
}

/** A service with its type erased, as the listener uses it. */
export interface AwsService {
  readonly signingName: string;
  readonly jsonTargetPrefix?: string;
  readonly jsonErrorPrefix: string;
  readonly jsonErrorCodes?: Readonly<Record<string, string>>;
  readonly model: ServiceModel;
  has(action: string): boolean;
  invoke(ctx: AwsContext, action: string, params: Params): unknown;
}

export function defineService<S>(def: AwsServiceDefinition<S>): AwsService {
  return {
    signingName: def.signingName,
    jsonTargetPrefix: def.jsonTargetPrefix,
    jsonErrorPrefix: def.jsonErrorPrefix,
    jsonErrorCodes: def.jsonErrorCodes,
    model: def.model,
    has: (action) => Object.hasOwn(def.actions, action),
    invoke: (ctx, action, params) => def.actions[action](def.create(ctx), params),
  };
}

export const SQS_SERVICE = defineService<SqsService>({
  signingName: 'sqs',
  jsonTargetPrefix: 'AmazonSQS',
  jsonErrorPrefix: 'com.amazonaws.sqs#',
  // AWS's JSON __type for these two (x-amzn-query-error keeps the query code, which the SDKs report).
  jsonErrorCodes: { InvalidParameterValue: 'InvalidParameterValueException', MissingParameter: 'MissingRequiredParameterException' },
  model: SQS_MODEL,
  create: (ctx) => new SqsService(ctx),
  actions: {
    CreateQueue: (s, p) => s.CreateQueue(p),
    GetQueueUrl: (s, p) => s.GetQueueUrl(p),
    ListQueues: (s, p) => s.ListQueues(p),
    DeleteQueue: (s, p) => s.DeleteQueue(p),
    GetQueueAttributes: (s, p) => s.GetQueueAttributes(p),
    PurgeQueue: (s, p) => s.PurgeQueue(p),
    SendMessage: (s, p) => s.SendMessage(p),
    SendMessageBatch: (s, p) => s.SendMessageBatch(p),
    ReceiveMessage: (s, p) => s.ReceiveMessage(p),
    DeleteMessage: (s, p) => s.DeleteMessage(p),
    DeleteMessageBatch: (s, p) => s.DeleteMessageBatch(p),
    ChangeMessageVisibility: (s, p) => s.ChangeMessageVisibility(p),
    ChangeMessageVisibilityBatch: (s, p) => s.ChangeMessageVisibilityBatch(p),
    SetQueueAttributes: (s, p) => s.SetQueueAttributes(p),
    TagQueue: (s, p) => tagQueue(s, p),
    UntagQueue: (s, p) => untagQueue(s, p),
    ListQueueTags: (s, p) => listQueueTags(s, p),
    ListDeadLetterSourceQueues: (s, p) => listDeadLetterSourceQueues(s, p),
    StartMessageMoveTask: (s, p) => startMessageMoveTask(s, p),
    ListMessageMoveTasks: (s, p) => listMessageMoveTasks(s, p),
    CancelMessageMoveTask: (s, p) => cancelMessageMoveTask(s, p),
  },
});

export const SNS_SERVICE = defineService<SnsService>({
  signingName: 'sns',
  jsonErrorPrefix: 'com.amazonaws.sns#',
  model: SNS_MODEL,
  create: (ctx) => new SnsService(ctx),
  actions: {
    CreateTopic: (s, p) => s.CreateTopic(p),
    DeleteTopic: (s, p) => s.DeleteTopic(p),
    ListTopics: (s, p) => s.ListTopics(p),
    GetTopicAttributes: (s, p) => s.GetTopicAttributes(p),
    SetTopicAttributes: (s, p) => s.SetTopicAttributes(p),
    Subscribe: (s, p) => s.Subscribe(p),
    ConfirmSubscription: (s, p) => s.ConfirmSubscription(p),
    Unsubscribe: (s, p) => s.Unsubscribe(p),
    ListSubscriptions: (s, p) => s.ListSubscriptions(p),
    ListSubscriptionsByTopic: (s, p) => s.ListSubscriptionsByTopic(p),
    GetSubscriptionAttributes: (s, p) => s.GetSubscriptionAttributes(p),
    SetSubscriptionAttributes: (s, p) => s.SetSubscriptionAttributes(p),
    Publish: (s, p) => s.Publish(p),
    PublishBatch: (s, p) => s.PublishBatch(p),
    TagResource: (s, p) => s.TagResource(p),
    UntagResource: (s, p) => s.UntagResource(p),
    ListTagsForResource: (s, p) => s.ListTagsForResource(p),
  },
});

/** Every service the listener dispatches to, SQS first (the fallback when nothing names a service). */
export const AWS_SERVICES: readonly AwsService[] = [SQS_SERVICE, SNS_SERVICE];
