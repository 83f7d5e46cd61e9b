// The JSON documents SNS delivers: a Notification (what an SQS or HTTP subscriber gets
// unless RawMessageDelivery is on) and a SubscriptionConfirmation (HTTP/S only), signed
// as AWS signs them. The canonical string is "Name\nvalue\n" for each signed field in
// byte order of the names (AWS: "Verifying the signatures of Amazon SNS messages"):
//   Notification:             Message, MessageId, Subject (if any), Timestamp, TopicArn, Type
//   SubscriptionConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type
// The document is laid out as SNS lays it out ("Key" : value, two-space indent).

import type { SnsSigningKey } from './signing.js';

/** An SNS message attribute as the envelope shows it. */
export interface EnvelopeAttribute {
  readonly Type: string;
  readonly Value: string;
}

export interface NotificationFields {
  readonly messageId: string;
  readonly topicArn: string;
  readonly subject: string | undefined;
  readonly message: string;
  /** ISO-8601 with milliseconds, UTC. */
  readonly timestamp: string;
  readonly signatureVersion: '1' | '2';
  /** FIFO topics only. */
  readonly sequenceNumber?: string;
  readonly unsubscribeUrl: string;
  readonly signingCertUrl: string;
  readonly attributes: Readonly<Record<string, EnvelopeAttribute>>;
}

const NOTIFICATION_SIGNED = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const CONFIRMATION_SIGNED = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const;

/** The string AWS signs: each present field as "Name\nvalue\n", in the order given. */
export function canonicalString(doc: Readonly<Record<string, unknown>>, fields: readonly string[]): string {
  let out = '';
  for (const f of fields) {
    const v = doc[f];
    if (typeof v === 'string') out += `${f}\n${v}\n`;
  }
  return out;
}

/** The names signed for a message of this Type. */
export function signedFields(type: string): readonly string[] {
  return type === 'Notification' ? NOTIFICATION_SIGNED : CONFIRMATION_SIGNED;
}

/** The string a Notification's Signature signs. */
export function notificationStringToSign(f: Pick<NotificationFields, 'message' | 'messageId' | 'subject' | 'timestamp' | 'topicArn'>): string {
  const doc = { Message: f.message, MessageId: f.messageId, Subject: f.subject, Timestamp: f.timestamp, TopicArn: f.topicArn, Type: 'Notification' };
  return canonicalString(doc, NOTIFICATION_SIGNED);
}

/** A Notification with its signature (of notificationStringToSign(f)), as the JSON text SNS delivers. */
export function notificationJson(f: NotificationFields, signature: string): string {
  const doc: Record<string, unknown> = { Type: 'Notification', MessageId: f.messageId };
  if (f.sequenceNumber !== undefined) doc.SequenceNumber = f.sequenceNumber;
  doc.TopicArn = f.topicArn;
  if (f.subject !== undefined) doc.Subject = f.subject;
  doc.Message = f.message;
  doc.Timestamp = f.timestamp;
  doc.SignatureVersion = f.signatureVersion;
  doc.Signature = signature;
  doc.SigningCertURL = f.signingCertUrl;
  doc.UnsubscribeURL = f.unsubscribeUrl;
  if (Object.keys(f.attributes).length > 0) doc.MessageAttributes = f.attributes;
  return layout(doc);
}

export interface ConfirmationFields {
  readonly messageId: string;
  readonly topicArn: string;
  readonly token: string;
  readonly subscribeUrl: string;
  readonly timestamp: string;
  readonly signatureVersion: '1' | '2';
  readonly signingCertUrl: string;
}

/** A SubscriptionConfirmation, signed, as SNS POSTs it. */
export function confirmationJson(f: ConfirmationFields, key: SnsSigningKey): string {
  const doc: Record<string, unknown> = {
    Type: 'SubscriptionConfirmation',
    MessageId: f.messageId,
    Token: f.token,
    TopicArn: f.topicArn,
    Message: `You have chosen to subscribe to the topic ${f.topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
    SubscribeURL: f.subscribeUrl,
    Timestamp: f.timestamp,
    SignatureVersion: f.signatureVersion,
  };
  doc.Signature = key.signSync(canonicalString(doc, CONFIRMATION_SIGNED), f.signatureVersion);
  doc.SigningCertURL = f.signingCertUrl;
  return layout(doc);
}

/** SNS's layout: one "Key" : value per line; nested objects (MessageAttributes) one entry per line. */
function layout(doc: Readonly<Record<string, unknown>>): string {
  const lines = Object.entries(doc).map(([k, v]) => {
    if (typeof v === 'object' && v !== null) {
      const inner = Object.entries(v).map(([ik, iv]) => `    ${JSON.stringify(ik)} : ${JSON.stringify(iv)}`);
      return `  ${JSON.stringify(k)} : {\n${inner.join(',\n')}\n  }`;
    }
    return `  ${JSON.stringify(k)} : ${JSON.stringify(v)}`;
  });
  return `{\n${lines.join(',\n')}\n}`;
}
