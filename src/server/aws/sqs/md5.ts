// The MD5 digests SQS returns and the SDKs verify: of the body, and of the
// message attributes in AWS's binary encoding (names sorted; for each: name,
// data type and value, each as a 4-byte big-endian length then the bytes, the
// value preceded by a transport byte, 1 for String/Number, 2 for Binary).

import { createHash } from 'node:crypto';

export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  /** Base64 in JSON; raw bytes once decoded. */
  readonly BinaryValue?: Buffer;
}

export function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export function md5OfAttributes(attrs: Readonly<Record<string, MessageAttributeValue>>): string {
  const hash = createHash('md5');
  const lengthPrefixed = (b: Buffer): void => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    hash.update(len);
    hash.update(b);
  };
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name];
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(a.DataType, 'utf8'));
    if (a.BinaryValue !== undefined && a.DataType.startsWith('Binary')) {
      hash.update(Buffer.from([2]));
      lengthPrefixed(a.BinaryValue);
    } else {
      hash.update(Buffer.from([1]));
      lengthPrefixed(Buffer.from(a.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}
