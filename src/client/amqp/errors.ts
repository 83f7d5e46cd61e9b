// Errors the AMQP client raises: the broker closed a channel or the connection
// (with its reply code and text), the socket went away, or the broker broke the
// protocol. One class, so callers print `err.message` and are done.

export class AmqpClientError extends Error {
  constructor(
    message: string,
    /** The broker's reply code (404, 406, 320, 501...), or 0 for a lost socket or a client-side failure. */
    readonly replyCode = 0,
    /** True when the whole connection is gone, false when only a channel is. */
    readonly connectionLevel = true,
  ) {
    super(message);
    this.name = 'AmqpClientError';
  }
}

/** "channel 1 closed by the broker: 404 NOT_FOUND - no queue 'q' in vhost '/'". */
export function closedByBroker(what: string, replyCode: number, replyText: string, connectionLevel: boolean): AmqpClientError {
  // The broker's reply text starts with the code's name ("NOT_FOUND - ..."), RabbitMQ style.
  return new AmqpClientError(`${what} closed by the broker: ${replyCode} ${replyText}`, replyCode, connectionLevel);
}
