// SASL SCRAM-SHA-256 / SCRAM-SHA-512 server (RFC 5802, RFC 7677) as Kafka's ScramSaslServer
// behaves: client-first -> server-first (nonce, salt, iterations), client-final (proof) ->
// server-final (signature). Channel binding is not offered: a gs2 header other than "n" is a
// malformed message, as in Kafka's ScramMessages. Extensions after the nonce are accepted and
// ignored, except tokenauth (Kafka's delegation tokens), which Wharf does not have.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { digest, hmac, SCRAM_ITERATIONS_DEFAULT, type ScramCredentials, type ScramHash } from '../../../broker/scram-credentials.js';
import {
  SaslAuthenticationError,
  SaslError,
  splitLogin,
  type SaslBackend,
  type SaslIdentity,
  type SaslServer,
} from './mechanism.js';

/** RFC 5802 §7 saslname: '=' and ',' appear only as =3D and =2C. */
const SASLNAME = '(?:[^=,]|=2C|=3D)+';
/** printable, without ',' (the nonce alphabet). */
const PRINTABLE = '[\\x21-\\x2B\\x2D-\\x7E]+';
const EXTENSIONS = '(?:,[A-Za-z]+=[^,]+)*';
const BASE64 = '[A-Za-z0-9+/]*={0,2}';

const CLIENT_FIRST = new RegExp(`^n,(?:a=(?<authzid>${SASLNAME}))?,(?<bare>(?:m=[^,]+,)?n=(?<saslname>${SASLNAME}),r=(?<nonce>${PRINTABLE})(?<extensions>${EXTENSIONS}))$`);
const CLIENT_FINAL = new RegExp(`^(?<withoutProof>c=(?<channel>${BASE64}),r=(?<nonce>${PRINTABLE})${EXTENSIONS}),p=(?<proof>${BASE64})$`);

/** RFC 5802 §5.1: the saslname's escapes undone. */
export function saslNameToLogin(saslName: string): string {
  return saslName.replace(/=2C|=3D/g, (e) => (e === '=2C' ? ',' : '='));
}

/**
 * RFC 5802 §5.1: the final message repeats the whole nonce (client's + server's). librdkafka up
 * to at least 2.0 (Debian's) sends its own nonce once more in front of it; the server's random
 * part is still there, so replay protection holds, and the proof covers the text sent. Kafka
 * brokers that predate their nonce check accept it too, so Wharf does.
 */
function nonceMatches(finalNonce: string, x: { readonly nonce: string; readonly clientNonce: string }): boolean {
  return finalNonce === x.nonce || finalNonce === x.clientNonce + x.nonce;
}

type State = 'client-first' | 'client-final' | 'complete' | 'failed';

interface Exchange {
  readonly login: string;
  readonly user: string;
  readonly vhost: string;
  readonly credentials: ScramCredentials;
  readonly clientFirstBare: string;
  readonly serverFirst: string;
  readonly nonce: string;
  readonly clientNonce: string;
}

export class ScramServer implements SaslServer {
  identity: SaslIdentity | undefined;
  private state: State = 'client-first';
  private exchange: Exchange | undefined;

  constructor(
    private readonly hash: ScramHash,
    private readonly backend: SaslBackend,
    /**
     * The server's part of the nonce (a test gives RFC 7677's). Letters and digits only, as
     * Kafka's (base 36): librdkafka's parser mishandles '=' inside an attribute value.
     */
    private readonly serverNonce: () => string = () => randomBytes(24).toString('base64url').replace(/[-_]/g, 'x'),
  ) {}

  get mechanism(): 'SCRAM-SHA-256' | 'SCRAM-SHA-512' {
    return this.hash === 'SHA-256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512';
  }

  evaluate(token: Buffer): Buffer {
    try {
      if (this.state === 'client-first') return this.clientFirst(token.toString('utf8'));
      if (this.state === 'client-final') return this.clientFinal(token.toString('utf8'));
      throw new SaslError(`Unexpected challenge in Sasl server state ${this.state}`);
    } catch (err) {
      this.state = 'failed';
      this.exchange = undefined;
      throw err;
    }
  }

  private clientFirst(message: string): Buffer {
    const m = CLIENT_FIRST.exec(message);
    if (!m?.groups) throw new SaslError('Invalid SCRAM client first message format');
    const g = m.groups as { authzid?: string; bare: string; saslname: string; nonce: string; extensions: string };
    if (/(?:^|,)tokenauth=true(?:,|$)/i.test(g.extensions)) throw new SaslError('Token authentication is not supported');
    const login = saslNameToLogin(g.saslname);
    const { vhost, user } = splitLogin(login);
    const credentials = this.backend.scramCredentials(user, this.hash);
    // SaslError messages are logged, never sent: they may name the user.
    if (credentials === undefined) throw new SaslError(`Authentication failed: Invalid user credentials (no user '${user}')`);
    if (g.authzid !== undefined && saslNameToLogin(g.authzid) !== login) {
      throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
    }
    if (credentials.iterations < SCRAM_ITERATIONS_DEFAULT) {
      throw new SaslError(`Iterations ${credentials.iterations} is less than the minimum ${SCRAM_ITERATIONS_DEFAULT} for ${this.mechanism}`);
    }
    const nonce = g.nonce + this.serverNonce();
    const serverFirst = `r=${nonce},s=${credentials.salt.toString('base64')},i=${credentials.iterations}`;
    this.exchange = { login, user, vhost, credentials, clientFirstBare: g.bare, serverFirst, nonce, clientNonce: g.nonce };
    this.state = 'client-final';
    return Buffer.from(serverFirst, 'utf8');
  }

  private clientFinal(message: string): Buffer {
    const x = this.exchange as Exchange;
    const m = CLIENT_FINAL.exec(message);
    if (!m?.groups) throw new SaslError('Invalid SCRAM client final message format');
    const g = m.groups as { withoutProof: string; nonce: string; proof: string };
    if (!nonceMatches(g.nonce, x)) throw new SaslError('Invalid client nonce in the final client message.');
    // RFC 5802 §3: ClientSignature = HMAC(StoredKey, AuthMessage); ClientKey = ClientProof XOR
    // ClientSignature; the client knows the password iff H(ClientKey) = StoredKey.
    const authMessage = `${x.clientFirstBare},${x.serverFirst},${g.withoutProof}`;
    const clientSignature = hmac(this.hash, x.credentials.storedKey, authMessage);
    const proof = Buffer.from(g.proof, 'base64');
    if (proof.length !== clientSignature.length) throw new SaslError('Invalid client credentials');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = (proof[i] as number) ^ (clientSignature[i] as number);
    if (!timingSafeEqual(digest(this.hash, clientKey), x.credentials.storedKey)) {
      throw new SaslError(`Invalid client credentials (wrong password for user '${x.user}')`);
    }
    // Checked after the proof so that a missing vhost is not told to someone without the password.
    if (!this.backend.vhostExists(x.vhost)) throw new SaslError(`Authentication failed: vhost '${x.vhost}' does not exist`);
    const serverSignature = hmac(this.hash, x.credentials.serverKey, authMessage);
    this.identity = { user: x.user, vhost: x.vhost, mechanism: this.mechanism };
    this.state = 'complete';
    this.exchange = undefined;
    return Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
  }
}
