// SQS tags, dead-letter sources and message move tasks (redrive from a DLQ), over
// SqsService's queue lookups. Tags are kept with the queue (x-sqs-tags, attributes.ts);
// a move task is a broker move (src/broker/move.ts: batches atomic in the log, so a
// crash leaves every message in exactly one queue) from the DLQ back to the queue each
// message died in (its x-death), or to DestinationArn, at most
// MaxNumberOfMessagesPerSecond.

import type { Broker } from '../../../broker/broker.js';
import type { MoveJob } from '../../../broker/move.js';
import type { Queue } from '../../../broker/queue/queue.js';
import { AwsError } from '../errors.js';
import { redrivePolicyOf, storedTags } from './attributes.js';
import type { SqsService } from './service.js';

type Params = Record<string, unknown>;

/** AWS's limits on tags. */
const TAGS_MAX = 50;
const TAG_KEY_CHARS_MAX = 128;
const TAG_VALUE_CHARS_MAX = 256;
/** AWS's bounds on MaxNumberOfMessagesPerSecond. */
const MOVE_RATE_MAX = 500;

/** Tags as CreateQueue (`tags`) and TagQueue (`Tags`) give them, checked as SQS checks them. */
export function checkTags(raw: unknown, queueName: string, current: Readonly<Record<string, string>> = {}): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AwsError('InvalidParameterValue', 'Value for parameter Tags is invalid.');
  const out: Record<string, string> = { ...current };
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k.length < 1 || k.length > TAG_KEY_CHARS_MAX) throw new AwsError('InvalidParameterValue', `Tag keys must be between 1 and ${TAG_KEY_CHARS_MAX} characters in length.`);
    if (typeof v !== 'string' || v.length > TAG_VALUE_CHARS_MAX) throw new AwsError('InvalidParameterValue', `Tag values must be between 0 and ${TAG_VALUE_CHARS_MAX} characters in length.`);
    out[k] = v;
  }
  if (Object.keys(out).length > TAGS_MAX) throw new AwsError('InvalidParameterValue', `Too many tags added for queue ${queueName}.`);
  return out;
}

export async function tagQueue(svc: SqsService, p: Params): Promise<Params> {
  const q = svc.queueOf(p);
  if (p.Tags === undefined || p.Tags === null || (typeof p.Tags === 'object' && Object.keys(p.Tags).length === 0)) {
    throw new AwsError('MissingParameter', 'The request must contain the parameter Tags.');
  }
  await svc.updateQueue(q, undefined, checkTags(p.Tags, q.name, storedTags(q)));
  return {};
}

export async function untagQueue(svc: SqsService, p: Params): Promise<Params> {
  const q = svc.queueOf(p);
  if (!Array.isArray(p.TagKeys) || p.TagKeys.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter TagKeys.');
  const tags = storedTags(q);
  for (const k of p.TagKeys) {
    if (typeof k !== 'string' || k.length < 1 || k.length > TAG_KEY_CHARS_MAX) throw new AwsError('InvalidParameterValue', `Tag keys must be between 1 and ${TAG_KEY_CHARS_MAX} characters in length.`);
    delete tags[k];
  }
  await svc.updateQueue(q, undefined, tags);
  return {};
}

export function listQueueTags(svc: SqsService, p: Params): Params {
  const tags = storedTags(svc.queueOf(p));
  return Object.keys(tags).length > 0 ? { Tags: tags } : {};
}

/** The queues whose RedrivePolicy names this one, sorted by name. */
function sourcesOf(svc: SqsService, dlq: Queue): string[] {
  const arn = svc.arnOf(dlq.name);
  return [...svc.ctx.vhost.queues.values()].filter((q) => redrivePolicyOf(q)?.deadLetterTargetArn === arn).map((q) => q.name).sort();
}

export function listDeadLetterSourceQueues(svc: SqsService, p: Params): Params {
  const dlq = svc.queueOf(p);
  const max = p.MaxResults === undefined ? undefined : Number(p.MaxResults);
  if (max !== undefined && !(Number.isInteger(max) && max >= 1 && max <= 1000)) {
    throw new AwsError('InvalidParameterValue', 'Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.');
  }
  const names = sourcesOf(svc, dlq);
  const after = typeof p.NextToken === 'string' ? Buffer.from(p.NextToken, 'base64url').toString('utf8') : undefined;
  const from = after === undefined ? names : names.filter((n) => n > after);
  const page = from.slice(0, max ?? 1000);
  const out: Params = { queueUrls: page.map((n) => svc.queueUrl(n)) };
  if (max !== undefined && from.length > page.length) out.NextToken = Buffer.from(page[page.length - 1], 'utf8').toString('base64url');
  return out;
}

// --- message move tasks --------------------------------------------------

interface MoveTask {
  readonly handle: string;
  readonly job: MoveJob;
  readonly sourceArn: string;
  readonly destinationArn: string | undefined;
  readonly rate: number | undefined;
}

/** The tasks of each broker, newest last (the broker's Moves keeps their jobs). */
const TASKS = new WeakMap<Broker, MoveTask[]>();
/** Finished tasks kept per broker for ListMessageMoveTasks. */
const FINISHED_TASKS_KEPT = 100;

function tasksOf(broker: Broker): MoveTask[] {
  let list = TASKS.get(broker);
  if (!list) TASKS.set(broker, (list = []));
  return list;
}

const notFoundArn = (param: string): AwsError =>
  new AwsError('ResourceNotFoundException', `The resource that you specified for the ${param} parameter doesn't exist.`, 404);

export function startMessageMoveTask(svc: SqsService, p: Params): Params {
  const sourceArn = requiredString(p, 'SourceArn');
  const source = svc.queueByArn(sourceArn);
  if (!source) throw notFoundArn('SourceArn');
  if (sourcesOf(svc, source).length === 0) throw new AwsError('InvalidParameterValue', 'Source queue must be configured as a Dead Letter Queue.');
  const destinationArn = typeof p.DestinationArn === 'string' && p.DestinationArn !== '' ? p.DestinationArn : undefined;
  const destination = destinationArn === undefined ? undefined : svc.queueByArn(destinationArn);
  if (destinationArn !== undefined && !destination) throw notFoundArn('DestinationArn');
  const rate = p.MaxNumberOfMessagesPerSecond === undefined || p.MaxNumberOfMessagesPerSecond === null ? undefined : Number(p.MaxNumberOfMessagesPerSecond);
  if (rate !== undefined && !(Number.isInteger(rate) && rate >= 1 && rate <= MOVE_RATE_MAX)) {
    throw new AwsError('InvalidParameterValue', `Value ${String(p.MaxNumberOfMessagesPerSecond)} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and ${MOVE_RATE_MAX}.`);
  }
  const tasks = tasksOf(svc.ctx.broker);
  if (tasks.some((t) => t.sourceArn === sourceArn && t.job.state === 'running')) {
    throw new AwsError('InvalidParameterValue', 'There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
  }
  const job = svc.ctx.broker.moves.start({
    vhost: svc.ctx.vhost,
    source: source.name,
    // Back to the queue each message was dead-lettered from, or where the caller says.
    destination: destination ? { kind: 'queue', queue: destination.name } : { kind: 'origin' },
    stripXDeath: true,
    ...(rate !== undefined ? { messagesPerSecond: rate } : {}),
  });
  const handle = Buffer.from(JSON.stringify({ taskId: job.id, sourceArn }), 'utf8').toString('base64');
  tasks.push({ handle, job, sourceArn, destinationArn, rate });
  const finished = tasks.filter((t) => t.job.state !== 'running');
  for (const t of finished.slice(0, Math.max(0, finished.length - FINISHED_TASKS_KEPT))) tasks.splice(tasks.indexOf(t), 1);
  return { TaskHandle: handle };
}

export function listMessageMoveTasks(svc: SqsService, p: Params): Params {
  const sourceArn = requiredString(p, 'SourceArn');
  if (!svc.queueByArn(sourceArn)) throw notFoundArn('SourceArn');
  const max = p.MaxResults === undefined || p.MaxResults === null ? 1 : Number(p.MaxResults);
  if (!(Number.isInteger(max) && max >= 1 && max <= 10)) {
    throw new AwsError('InvalidParameterValue', `Value ${String(p.MaxResults)} for parameter MaxResults is invalid. Reason: must be between 1 and 10.`);
  }
  const mine = tasksOf(svc.ctx.broker).filter((t) => t.sourceArn === sourceArn).reverse().slice(0, max);
  return { Results: mine.map(taskEntry) };
}

export function cancelMessageMoveTask(svc: SqsService, p: Params): Params {
  const handle = requiredString(p, 'TaskHandle');
  // AWS reads the handle (base64 JSON: taskId, sourceArn) before looking for the task.
  const sourceArn = sourceArnOfHandle(handle);
  if (sourceArn === undefined) throw new AwsError('InvalidParameterValue', 'Value for parameter TaskHandle is invalid.');
  if (!svc.queueByArn(sourceArn)) throw notFoundArn('SourceArn');
  const task = tasksOf(svc.ctx.broker).find((t) => t.handle === handle);
  if (!task) throw new AwsError('ResourceNotFoundException', 'Task does not exist.', 404);
  if (task.job.state !== 'running' || task.job.cancelRequested) {
    throw new AwsError('InvalidParameterValue', 'Only active tasks can be cancelled.');
  }
  task.job.cancel();
  return { ApproximateNumberOfMessagesMoved: task.job.moved };
}

/** The SourceArn a task handle names, or undefined when it is no handle at all. */
function sourceArnOfHandle(handle: string): string | undefined {
  try {
    const doc: unknown = JSON.parse(Buffer.from(handle, 'base64').toString('utf8'));
    const { taskId, sourceArn } = (doc ?? {}) as { taskId?: unknown; sourceArn?: unknown };
    return typeof taskId === 'string' && typeof sourceArn === 'string' ? sourceArn : undefined;
  } catch {
    return undefined;
  }
}

/** A task as ListMessageMoveTasks shows it; the handle only while it runs (as AWS). */
function taskEntry(t: MoveTask): Params {
  const j = t.job;
  const status = j.state === 'running' ? (j.cancelRequested ? 'CANCELLING' : 'RUNNING') : j.state === 'done' ? 'COMPLETED' : j.state === 'cancelled' ? 'CANCELLED' : 'FAILED';
  const out: Params = {
    Status: status,
    SourceArn: t.sourceArn,
    ApproximateNumberOfMessagesMoved: j.moved,
    ApproximateNumberOfMessagesToMove: j.total,
    StartedTimestamp: j.startedAt,
  };
  if (status === 'RUNNING') out.TaskHandle = t.handle;
  if (t.destinationArn !== undefined) out.DestinationArn = t.destinationArn;
  if (t.rate !== undefined) out.MaxNumberOfMessagesPerSecond = t.rate;
  if (status === 'FAILED') out.FailureReason = j.error ?? 'The task failed.';
  return out;
}

function requiredString(p: Params, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw new AwsError('MissingParameter', `The request must contain the parameter ${key}.`);
  return v;
}

