// Typed domain errors. The broker throws these; each protocol adapter maps them
// to its own wire form (AMQP: channel or connection close with a reply code).
// Messages follow RabbitMQ's wording without the "CODE_NAME - " prefix, e.g.
// "no queue 'q' in vhost '/'", because clients and people match on them.

export type BrokerErrorKind =
  | 'not-found'
  | 'precondition-failed'
  | 'access-refused'
  | 'resource-locked'
  | 'not-allowed'
  | 'command-invalid'
  | 'not-implemented'
  | 'resource-error'
  | 'internal-error';

export class BrokerError extends Error {
  constructor(
    readonly kind: BrokerErrorKind,
    message: string,
    /** Connection-level (hard) rather than channel-level (soft). */
    readonly connectionLevel = false,
  ) {
    super(message);
    this.name = 'BrokerError';
  }
}

/**
 * tx.commit applied a transaction's work and a write it waited for failed (a home node or the
 * replication refused a publish, a home node was gone for acks): RabbitMQ's 406 "partial tx
 * completion". `reason` is the failure, for the log.
 */
export class PartialTxCompletion extends BrokerError {
  constructor(readonly reason: unknown) {
    super('precondition-failed', 'partial tx completion');
  }
}

export const notFound = (what: string, name: string, vhost: string): BrokerError =>
  new BrokerError('not-found', `no ${what} '${name}' in vhost '${vhost}'`);

export const preconditionFailed = (message: string): BrokerError =>
  new BrokerError('precondition-failed', message);

export const accessRefused = (message: string): BrokerError => new BrokerError('access-refused', message);

export const resourceLocked = (message: string): BrokerError => new BrokerError('resource-locked', message);

export const commandInvalid = (message: string): BrokerError => new BrokerError('command-invalid', message);
