// The shape of a generated API: the codecs of its request and response data
// (the message body after the header), each for every valid version.

import type { MessageCodec } from './primitives.js';

export interface ApiCodec<Req, Res> {
  readonly apiKey: number;
  readonly name: string;
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
}
