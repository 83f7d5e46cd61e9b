// The one error type of the query protocol layer: a request the codec cannot read
// (a malformed form body, a value of the wrong type, a missing or unknown Action)
// carries the AWS error code and message the query protocol answers with.

export class QueryProtocolError extends Error {
  constructor(
    /** AWS's error code: MalformedQueryString, InvalidParameterValue, MissingAction, InvalidAction, ... */
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'QueryProtocolError';
  }
}

export const invalidValue = (value: string, param: string, reason: string): QueryProtocolError =>
  new QueryProtocolError('InvalidParameterValue', `Value ${value} for parameter ${param} is invalid. Reason: ${reason}.`);
