// An AWS API error: its code, message and HTTP status, rendered by each protocol
// in its own shape (JSON 1.0: {"__type", "message"} plus the x-amzn-query-error
// header the SDKs map back to the query protocol's code; query: an XML ErrorResponse).

export class AwsError extends Error {
  constructor(
    /** The error code (e.g. QueueDoesNotExist, InvalidParameterValue). */
    readonly code: string,
    message: string,
    readonly status = 400,
    /** The query protocol's code, when it differs (e.g. AWS.SimpleQueueService.NonExistentQueue). */
    readonly queryCode?: string,
    /** Sender (the client's fault) or Receiver. */
    readonly fault: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
    /** The query protocol's message, when it differs (SQS's missing queue: "... for this wsdl version."). */
    readonly queryMessage?: string,
  ) {
    super(message);
    this.name = 'AwsError';
  }
}
