// SaslHandshake and SaslAuthenticate outside the SASL exchange: on a listener without SASL, or
// on a connection that has already authenticated. Kafka's KafkaApis answers both with
// ILLEGAL_SASL_STATE (the exchange itself is served by sasl/authenticator.ts, before any handler).

import { ErrorCode, type Input, type SaslAuthenticateResponse, type SaslHandshakeResponse } from '../../../protocol/kafka/index.js';

export function saslHandshake(): Input<SaslHandshakeResponse> {
  return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
}

export function saslAuthenticate(): Input<SaslAuthenticateResponse> {
  return {
    errorCode: ErrorCode.ILLEGAL_SASL_STATE,
    errorMessage: 'SaslAuthenticate request received after successful authentication',
    authBytes: Buffer.alloc(0),
    sessionLifetimeMs: 0n,
  };
}
