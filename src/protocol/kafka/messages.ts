// Whole Kafka messages: header + body, both directions. A frame here is what
// KafkaFrameParser emits (no size prefix); encoders return the size-prefixed
// frame as chunks, records fields included by reference, for writev or
// socket.cork() + write.
//
// The server decodes requests and encodes responses; Wharf's own client (for
// `wharf perf` and tests) encodes requests and decodes responses. As in Kafka,
// bytes after a body are ignored (Kafka's RequestContext does not check them).

import {
  API_CODECS,
  isSupportedVersion,
  requestHeaderVersion,
  responseHeaderVersion,
  type ApiKeyNumber,
  type RequestOf,
  type ResponseOf,
} from './generated/apis.js';
import { requestHeaderCodec, responseHeaderCodec } from './generated/headers.js';
import { decodeRequestHeader, type DecodedRequestHeader } from './frame.js';
import { KafkaProtocolError, malformed, unsupportedVersion } from './protocol-error.js';
import { Reader, Writer, type Input } from './primitives.js';
import type { ApiCodec } from './api-codec.js';

/** A decoded request: a union discriminated by apiKey, so a switch narrows `body`. */
export type KafkaRequest = {
  [K in ApiKeyNumber]: {
    apiKey: K;
    apiVersion: number;
    correlationId: number;
    clientId: string | null;
    body: RequestOf<K>;
  };
}[ApiKeyNumber];

function codecOf(apiKey: number, apiVersion: number, what: string): ApiCodec<unknown, unknown> {
  const codec = API_CODECS[apiKey as ApiKeyNumber] as ApiCodec<unknown, unknown> | undefined;
  if (codec === undefined) throw unsupportedVersion(`${what}: unknown api key ${apiKey}`);
  if (!isSupportedVersion(apiKey, apiVersion)) throw unsupportedVersion(`${what}: ${codec.name} has no version ${apiVersion}`);
  return codec;
}

/**
 * Decodes a request frame: header and body. An api key or version the codecs
 * do not cover is UNSUPPORTED_VERSION, a malformed body INVALID_REQUEST; both
 * carry the correlation id. Pass the header when it was decoded already.
 */
export function decodeRequest(frame: Buffer, header: DecodedRequestHeader = decodeRequestHeader(frame)): KafkaRequest {
  const { apiKey, apiVersion, correlationId } = header;
  if (!header.supported) throw unsupportedVersion(`api key ${apiKey} version ${apiVersion} is not supported`).withCorrelationId(correlationId);
  const codec = codecOf(apiKey, apiVersion, 'request');
  try {
    const body = codec.request.read(new Reader(frame, header.bodyOffset), apiVersion);
    return { apiKey, apiVersion, correlationId, clientId: header.clientId, body } as KafkaRequest;
  } catch (e) {
    if (e instanceof KafkaProtocolError) throw malformed(`${codec.name} v${apiVersion} request: ${e.message}`).withCorrelationId(correlationId);
    throw e;
  }
}

/** Encodes a response frame: size, response header (v0, or v1 for flexible versions but ApiVersions), body. */
export function encodeResponse<K extends ApiKeyNumber>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: Input<ResponseOf<K>>,
): Buffer[] {
  const codec = codecOf(apiKey, apiVersion, 'response') as ApiCodec<RequestOf<K>, ResponseOf<K>>;
  const w = new Writer(256);
  responseHeaderCodec.write(w, { correlationId }, responseHeaderVersion(apiKey, apiVersion));
  codec.response.write(w, body, apiVersion);
  return w.finish();
}

/** Encodes a request frame: size, request header (v1, or v2 for flexible versions), body. */
export function encodeRequest<K extends ApiKeyNumber>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: Input<RequestOf<K>>,
): Buffer[] {
  const codec = codecOf(apiKey, apiVersion, 'request') as ApiCodec<RequestOf<K>, ResponseOf<K>>;
  const w = new Writer(256);
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  requestHeaderCodec.write(w, { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId }, headerVersion);
  codec.request.write(w, body, apiVersion);
  return w.finish();
}

/** The correlation id of a response frame, to find the request it answers before decoding it. */
export function responseCorrelationId(frame: Buffer): number {
  if (frame.length < 4) throw malformed(`response of ${frame.length} bytes has no correlation id`);
  return frame.readInt32BE(0);
}

/** Decodes a response frame of the given api key and version (which the client knows from its request). */
export function decodeResponse<K extends ApiKeyNumber>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
): { correlationId: number; body: ResponseOf<K> } {
  const codec = codecOf(apiKey, apiVersion, 'response') as ApiCodec<RequestOf<K>, ResponseOf<K>>;
  const r = new Reader(frame);
  const { correlationId } = responseHeaderCodec.read(r, responseHeaderVersion(apiKey, apiVersion));
  try {
    return { correlationId, body: codec.response.read(r, apiVersion) };
  } catch (e) {
    if (e instanceof KafkaProtocolError) throw malformed(`${codec.name} v${apiVersion} response: ${e.message}`).withCorrelationId(correlationId);
    throw e;
  }
}
