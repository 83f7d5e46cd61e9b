// SASL/PLAIN server (RFC 4616), with Kafka's PlainSaslServer messages: one client token
// "authzid NUL authcid NUL passwd", one empty answer.

import {
  SaslAuthenticationError,
  splitLogin,
  type SaslBackend,
  type SaslIdentity,
  type SaslServer,
} from './mechanism.js';

const INVALID = 'Authentication failed: Invalid username or password';

export class PlainServer implements SaslServer {
  identity: SaslIdentity | undefined;
  private done = false;

  constructor(
    private readonly backend: SaslBackend,
    /** Why a refusal happened, for the broker's log only (never sent to the client). */
    private readonly note: (reason: string) => void,
  ) {}

  evaluate(token: Buffer): Buffer {
    if (this.done) throw new SaslAuthenticationError('Authentication exchange has completed');
    this.done = true;
    const tokens = token.toString('utf8').split('\u0000');
    if (tokens.length !== 3) throw new SaslAuthenticationError(`Invalid SASL/PLAIN response: expected 3 tokens, got ${tokens.length}`);
    const [authzid, login, password] = tokens as [string, string, string];
    if (login === '') throw new SaslAuthenticationError('Authentication failed: username not specified');
    if (password === '') throw new SaslAuthenticationError('Authentication failed: password not specified');
    const { vhost, user } = splitLogin(login);
    if (!this.backend.authenticate(user, password)) {
      this.note(`invalid credentials for user '${user}'`);
      throw new SaslAuthenticationError(INVALID);
    }
    if (!this.backend.vhostExists(vhost)) {
      this.note(`vhost '${vhost}' does not exist`);
      throw new SaslAuthenticationError(INVALID);
    }
    if (authzid !== '' && authzid !== login) {
      throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
    }
    this.identity = { user, vhost, mechanism: 'PLAIN' };
    return Buffer.alloc(0);
  }
}
