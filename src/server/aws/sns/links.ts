// What SNS answers without a signature, as AWS does: the signing certificate at the
// SigningCertURL, and the links its messages carry, the SubscribeURL
// (?Action=ConfirmSubscription&TopicArn=..&Token=..) and the UnsubscribeURL
// (?Action=Unsubscribe&SubscriptionArn=..), which an HTTP endpoint (or a person)
// just GETs. The topic's vhost is found among those the access keys map to.

import type { Broker } from '../../../broker/broker.js';
import type { Vhost } from '../../../broker/vhost.js';
import { SNS_MODEL, encodeQueryError, encodeQueryResponse, parseForm } from '../../../protocol/aws/index.js';
import { AwsError } from '../errors.js';
import { invalidParameter, type SnsContext } from './context.js';
import type { SnsRegistry } from './registry.js';
import { SnsService } from './service.js';

export interface LinkReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export interface LinkRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Whether it carries a signature (an Authorization header or X-Amz-Signature): then it is not a link. */
  readonly signed: boolean;
  readonly endpoint: string;
  readonly requestId: string;
}

/** The reply to an unsigned SNS request, or undefined when the request is not one SNS answers unsigned. */
export async function snsLink(r: LinkRequest, sns: SnsRegistry, broker: Broker, vhostNames: readonly string[], account: string): Promise<LinkReply | undefined> {
  if (r.method !== 'GET' || r.signed) return undefined;
  if (/^\/SimpleNotificationService-[0-9a-f]{32}\.pem$/.test(r.path)) {
    const key = await sns.signingKey();
    if (r.path !== key.certPath) return { status: 404, contentType: 'text/plain', body: 'Not Found' };
    return { status: 200, contentType: 'application/x-x509-ca-cert', body: key.certPem };
  }
  const params = parseForm(r.query);
  const action = params.get('Action');
  if (r.path !== '/' || (action !== 'ConfirmSubscription' && action !== 'Unsubscribe')) return undefined;
  try {
    const arn = action === 'ConfirmSubscription' ? (params.get('TopicArn') ?? '') : (params.get('SubscriptionArn') ?? '');
    const parts = arn.split(':');
    // AWS's text for a SubscribeURL with a malformed TopicArn is "Invalid parameter: Topic".
    if (parts.length < 6 || parts[0] !== 'arn' || parts[2] !== 'sns') throw invalidParameter(action === 'ConfirmSubscription' ? 'Topic' : 'SubscriptionArn');
    // A confirmation finds its subscription by the token (AWS confirms it whatever topic the URL names).
    const token = params.get('Token') ?? '';
    const holds = (v: Vhost): boolean =>
      sns.topics(v).topic(parts[5]) !== undefined || (action === 'ConfirmSubscription' && token !== '' && [...sns.topics(v).allSubscriptions()].some((s) => s.attributes.Token === token));
    const vhost = vhostNames.map((n) => broker.vhost(n)).find((v): v is Vhost => v !== undefined && holds(v));
    if (!vhost) throw new AwsError('NotFound', action === 'ConfirmSubscription' ? 'Topic does not exist' : 'Subscription does not exist', 404);
    const ctx: SnsContext = { broker, vhost, topics: sns.topics(vhost), signingKey: () => sns.signingKey(), endpoint: r.endpoint, region: parts[3], account };
    const svc = new SnsService(ctx);
    let result: unknown;
    if (action === 'ConfirmSubscription') {
      result = await svc.ConfirmSubscription({ TopicArn: arn, Token: params.get('Token') });
    } else {
      // A subscription confirmed with AuthenticateOnUnsubscribe (and every sqs one) needs a signed Unsubscribe.
      const attrs = (svc.GetSubscriptionAttributes({ SubscriptionArn: arn }) as { Attributes: Record<string, string> }).Attributes;
      if (attrs.ConfirmationWasAuthenticated === 'true') throw new AwsError('AuthorizationError', 'Authorization error: this subscription can only be removed by a signed request', 403);
      result = await svc.Unsubscribe({ SubscriptionArn: arn });
    }
    return { status: 200, contentType: 'text/xml', body: encodeQueryResponse(SNS_MODEL, action, result, r.requestId) };
  } catch (err) {
    if (!(err instanceof AwsError)) throw err;
    return { status: err.status, contentType: 'text/xml', body: encodeQueryError(SNS_MODEL, { code: err.code, message: err.message, fault: err.fault }, r.requestId) };
  }
}
