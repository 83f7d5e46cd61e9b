// The AWS query protocol (form-encoded requests, XML replies), driven by botocore's
// service models for SQS and SNS (generated/ from spec/aws/).

export { QueryProtocolError } from './errors.js';
export { operationOf, type Operation, type ServiceModel, type Shape, type ShapeRef } from './model.js';
export { decodeQuery, parseForm } from './query-decode.js';
export { encodeQueryError, encodeQueryResponse, escapeXml, type QueryErrorReply } from './query-encode.js';
export { SNS_MODEL } from './generated/sns.js';
export { SQS_MODEL } from './generated/sqs.js';
