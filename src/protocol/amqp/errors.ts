// The one error type of the AMQP protocol layer. Every malformed input ends in
// an AmqpProtocolError carrying the reply code to close with (§1.4.2 reply
// codes): the server maps it to channel.close (soft) or connection.close (hard).

export class AmqpProtocolError extends Error {
  /**
   * `message` is the reply text without RabbitMQ's "NAME - " prefix; the
   * server adds it with replyCodeName(replyCode) when it sends the close.
   */
  constructor(
    readonly replyCode: number,
    message: string,
    readonly classId = 0,
    readonly methodId = 0,
    readonly channel = 0,
  ) {
    super(message);
    this.name = 'AmqpProtocolError';
  }

  /** The same error, placed on a channel (errors are raised before the channel is known). */
  onChannel(channel: number): AmqpProtocolError {
    if (channel === this.channel) return this;
    return new AmqpProtocolError(this.replyCode, this.message, this.classId, this.methodId, channel);
  }

  /** The same error, attributed to a method (for close's class-id/method-id). */
  inMethod(classId: number, methodId: number, message = this.message): AmqpProtocolError {
    return new AmqpProtocolError(this.replyCode, message, classId, methodId, this.channel);
  }
}
