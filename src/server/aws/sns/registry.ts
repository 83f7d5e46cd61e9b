// The SNS state the AWS listener keeps for its life: each vhost's SnsTopics (the
// cached subscriptions and filter indexes), the signing key (loaded or made on first
// use), and the hook the HTTP push worker listens on.

import type { Vhost } from '../../../broker/vhost.js';
import { loadSigningKey, type SnsSigningKey } from './signing.js';
import { SnsTopics, type SubscriptionsListener } from './topics.js';

export class SnsRegistry {
  /**
   * Called after a subscription in any vhost is made, changed, confirmed or removed, or its
   * topic deleted: the HTTP push worker (re)reads `topics(vhost).allSubscriptions()` for the
   * http/https ones and drains their amq.sns.<id> queues.
   */
  readonly onSubscriptionsChanged = new Set<SubscriptionsListener>();
  private readonly byVhost = new Map<string, SnsTopics>();
  private key: Promise<SnsSigningKey> | undefined;

  constructor(private readonly dataDir: string) {}

  topics(vhost: Vhost): SnsTopics {
    let t = this.byVhost.get(vhost.name);
    // A vhost deleted and made again is a new object: its topics are read afresh.
    if (!t || t.vhost !== vhost) {
      t = new SnsTopics(vhost, (change) => {
        for (const l of this.onSubscriptionsChanged) l(change);
      });
      this.byVhost.set(vhost.name, t);
    }
    return t;
  }

  /** The signing key; made (once) on first use. */
  signingKey(): Promise<SnsSigningKey> {
    this.key ??= loadSigningKey(this.dataDir).catch((err: unknown) => {
      this.key = undefined;
      throw err;
    });
    return this.key;
  }
}
