// Kafka's SASL state machine for one connection (SaslServerAuthenticator): until a client has
// authenticated, only ApiVersions (once, before the handshake), SaslHandshake and then the
// mechanism's tokens are served; anything else closes the connection, as Kafka does.
//
//   handshake-or-versions --ApiVersions--> handshake --SaslHandshake(known)--> authenticate
//   authenticate --tokens...--> complete        any failure --> the connection is closed
//
// SaslHandshake v0 means the tokens that follow are raw SASL bytes framed by a 4-byte size
// (KIP-43); v1 means each token comes in a SaslAuthenticate request (KIP-152), whose failure
// response carries Kafka's error message before the close. Sessions do not expire
// (connections.max.reauth.ms = 0: session lifetime 0, no re-authentication).

import {
  ErrorCode,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
  type ApiKeyNumber,
  type DecodedRequestHeader,
  type SaslAuthenticateRequest,
  type SaslHandshakeRequest,
} from '../../../protocol/kafka/index.js';
import { errorResponse } from '../error-responses.js';
import { isSupported } from '../versions.js';
import {
  SaslAuthenticationError,
  SaslError,
  type SaslBackend,
  type SaslIdentity,
  type SaslMechanismName,
  type SaslServer,
} from './mechanism.js';
import { PlainServer } from './plain.js';
import { ScramServer } from './scram.js';

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;

/** What the connection does with a frame read before authentication completed. */
export type SaslStep =
  /** Serve it as an ordinary ApiVersions request. */
  | { readonly kind: 'api-versions' }
  /** Write these frames; then close if `close` is set, or carry on as `identity` if set. */
  | { readonly kind: 'reply'; readonly frames: Buffer[]; readonly close?: string; readonly identity?: SaslIdentity }
  /** Close without answering. */
  | { readonly kind: 'close'; readonly reason: string };

type State = 'handshake-or-versions' | 'handshake' | 'authenticate' | 'complete' | 'failed';

export class KafkaSaslAuthenticator {
  private state: State = 'handshake-or-versions';
  private server: SaslServer | undefined;
  private mechanism: SaslMechanismName | undefined;
  /** SaslHandshake v1+: tokens arrive in SaslAuthenticate requests, not raw. */
  private framedTokens = false;

  constructor(
    private readonly mechanisms: readonly SaslMechanismName[],
    private readonly backend: SaslBackend,
    /** Logs why a login was refused (never sent to the client). */
    private readonly note: (reason: string) => void,
    /**
     * In a cluster: the backend the nodes' own PLAIN login as the link user is checked with, also
     * where the listener offers no PLAIN (docs/cluster.md, "Streams: the data plane"). Undefined
     * (a single node): a mechanism the listener does not offer is refused as Kafka refuses it.
     */
    private readonly link: () => SaslBackend | undefined = () => undefined,
  ) {}

  get complete(): boolean {
    return this.state === 'complete';
  }

  receive(frame: Buffer): SaslStep {
    if (this.state === 'authenticate') return this.framedTokens ? this.authenticateRequest(frame) : this.rawToken(frame);
    if (this.state === 'handshake-or-versions' || this.state === 'handshake') return this.handshakeRequest(frame);
    return this.fail(`request in SASL state ${this.state}`);
  }

  private handshakeRequest(frame: Buffer): SaslStep {
    const header = this.header(frame);
    if (header === undefined) return this.fail('unreadable request during SASL handshake');
    const { apiKey, apiVersion } = header;
    if (apiKey === API_VERSIONS) {
      // Kafka serves one ApiVersions before the handshake; a second is an illegal state.
      if (this.state !== 'handshake-or-versions') return this.fail('Unexpected ApiVersions request during SASL handshake');
      // A version too new is answered in v0 (KIP-511) and the client may ask again.
      if (isSupported(apiKey, apiVersion)) this.state = 'handshake';
      return { kind: 'api-versions' };
    }
    if (apiKey !== SASL_HANDSHAKE) return this.fail(`Unexpected Kafka request of type ${apiKey} during SASL handshake.`);
    const req = this.body<SaslHandshakeRequest>(frame, header);
    if (req === undefined) return this.fail('malformed SaslHandshake request');
    const answer = (errorCode: number): Buffer[] =>
      encodeResponse(SASL_HANDSHAKE, apiVersion, header.correlationId, { errorCode, mechanisms: [...this.mechanisms] });
    const chosen = this.mechanisms.find((m) => m === req.mechanism);
    const link = chosen === undefined && req.mechanism === 'PLAIN' ? this.link() : undefined;
    if (link !== undefined) {
      this.mechanism = 'PLAIN';
      this.server = new PlainServer(link, this.note);
      this.framedTokens = apiVersion >= 1;
      this.state = 'authenticate';
      return { kind: 'reply', frames: answer(ErrorCode.NONE) };
    }
    if (chosen === undefined) {
      this.state = 'failed';
      return { kind: 'reply', frames: answer(ErrorCode.UNSUPPORTED_SASL_MECHANISM), close: `Unsupported SASL mechanism ${req.mechanism}` };
    }
    this.mechanism = chosen;
    this.server = this.newServer(chosen);
    this.framedTokens = apiVersion >= 1;
    this.state = 'authenticate';
    return { kind: 'reply', frames: answer(ErrorCode.NONE) };
  }

  /** After SaslHandshake v0: the frame is the token; the answer is the server's token, size-prefixed. */
  private rawToken(token: Buffer): SaslStep {
    let out: Buffer;
    try {
      out = (this.server as SaslServer).evaluate(token);
    } catch (err) {
      // Kafka has no way to send an error here: the connection is just closed.
      return this.fail(this.refusal(err).message);
    }
    const size = Buffer.alloc(4);
    size.writeInt32BE(out.length, 0);
    return this.afterToken([size, out]);
  }

  /** After SaslHandshake v1: each token is a SaslAuthenticate request. */
  private authenticateRequest(frame: Buffer): SaslStep {
    const header = this.header(frame);
    if (header === undefined) return this.fail('unreadable request during SASL authentication');
    const { apiKey, apiVersion, correlationId } = header;
    if (apiKey !== SASL_AUTHENTICATE) {
      // Kafka answers the request with ILLEGAL_SASL_STATE where it can, then closes.
      const why = `Unexpected Kafka request of type ${apiKey} during SASL authentication.`;
      const body = this.body<unknown>(frame, header);
      const data = body === undefined ? undefined : errorResponse(apiKey as ApiKeyNumber, apiVersion, body, ErrorCode.ILLEGAL_SASL_STATE, why);
      if (data === undefined) return this.fail(why);
      this.state = 'failed';
      return { kind: 'reply', frames: encodeResponse(apiKey as ApiKeyNumber, apiVersion, correlationId, data as never), close: why };
    }
    const req = this.body<SaslAuthenticateRequest>(frame, header);
    if (req === undefined) return this.fail('malformed SaslAuthenticate request');
    const answer = (data: { errorCode: number; errorMessage: string | null; authBytes: Buffer }): Buffer[] =>
      encodeResponse(SASL_AUTHENTICATE, apiVersion, correlationId, { ...data, sessionLifetimeMs: 0n });
    let out: Buffer;
    try {
      out = (this.server as SaslServer).evaluate(req.authBytes);
    } catch (err) {
      const refusal = this.refusal(err);
      this.state = 'failed';
      const frames = answer({ errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: refusal.message, authBytes: Buffer.alloc(0) });
      return { kind: 'reply', frames, close: refusal.message };
    }
    return this.afterToken(answer({ errorCode: ErrorCode.NONE, errorMessage: null, authBytes: out }));
  }

  private afterToken(frames: Buffer[]): SaslStep {
    const identity = this.server?.identity;
    if (identity === undefined) return { kind: 'reply', frames };
    this.state = 'complete';
    this.server = undefined;
    return { kind: 'reply', frames, identity };
  }

  /** The message Kafka sends for a failed token: its own for SaslAuthenticationError, the generic one otherwise. */
  private refusal(err: unknown): { message: string } {
    if (err instanceof SaslAuthenticationError) return { message: err.message };
    this.note(err instanceof SaslError ? err.message : `unexpected SASL failure: ${err instanceof Error ? err.message : String(err)}`);
    return { message: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mechanism ?? ''}` };
  }

  private newServer(mechanism: SaslMechanismName): SaslServer {
    if (mechanism === 'PLAIN') return new PlainServer(this.backend, this.note);
    return new ScramServer(mechanism === 'SCRAM-SHA-256' ? 'SHA-256' : 'SHA-512', this.backend);
  }

  private header(frame: Buffer): DecodedRequestHeader | undefined {
    try {
      return decodeRequestHeader(frame);
    } catch {
      return undefined;
    }
  }

  private body<T>(frame: Buffer, header: DecodedRequestHeader): T | undefined {
    if (!isSupported(header.apiKey, header.apiVersion)) return undefined;
    try {
      return decodeRequest(frame, header).body as T;
    } catch {
      return undefined;
    }
  }

  private fail(reason: string): SaslStep {
    this.state = 'failed';
    return { kind: 'close', reason };
  }
}
