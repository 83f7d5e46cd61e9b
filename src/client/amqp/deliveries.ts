// The client's fast path for basic.deliver, the one method a consumer receives
// per message: its frames are taken here before the generic CommandAssembler,
// decoded without the generic method table, and its three short strings
// (consumer tag, exchange, routing key), which repeat from one delivery to the
// next, are compared byte for byte with the previous ones instead of being
// decoded again. Everything else goes to the CommandAssembler.
//
// Same rules as the assembler (§4.2.6): after basic.deliver comes its content
// header, then body frames up to the header's body size, with no method frame
// in between on that channel. Malformed frames give an AmqpProtocolError.

import {
  AmqpProtocolError,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_METHOD,
  ReplyCode,
  parseContentHeader,
  type BasicDeliver,
  type ContentHeader,
  type Frame,
} from '../../protocol/amqp/index.js';

const BASIC_DELIVER_ID = 0x003c003c;
const TWO_POW_32 = 4294967296;
const EMPTY = Buffer.alloc(0);

export type DeliveryCallback = (channel: number, d: BasicDeliver, header: ContentHeader, body: Buffer) => void;

interface Pending {
  readonly deliver: BasicDeliver;
  header: ContentHeader | undefined;
  received: number;
  first: Buffer | undefined;
  rest: Buffer[] | undefined;
}

/** The last short string read in one field: equal bytes give the same string back without decoding. */
class ShortStrCache {
  private readonly bytes = Buffer.alloc(255);
  private length = -1;
  private value = '';

  read(b: Buffer, start: number, length: number): string {
    if (length === this.length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (b[start + i] !== this.bytes[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.value;
    }
    b.copy(this.bytes, 0, start, start + length);
    this.length = length;
    this.value = b.toString('utf8', start, start + length);
    return this.value;
  }
}

export class DeliveryFastPath {
  private readonly pending = new Map<number, Pending>();
  private readonly consumerTags = new ShortStrCache();
  private readonly exchanges = new ShortStrCache();
  private readonly routingKeys = new ShortStrCache();

  constructor(private readonly onDelivery: DeliveryCallback) {}

  /** Takes the frame if it belongs to a delivery; false leaves it to the CommandAssembler. */
  take(f: Frame): boolean {
    switch (f.type) {
      case FRAME_METHOD:
        return this.onMethod(f);
      case FRAME_HEADER:
        return this.onHeader(f);
      case FRAME_BODY:
        return this.onBody(f);
      default:
        return false;
    }
  }

  /** Forgets a partial delivery on a channel that closed. */
  resetChannel(channel: number): void {
    this.pending.delete(channel);
  }

  private onMethod(f: Frame): boolean {
    const p = f.payload;
    if (this.pending.size > 0 && this.pending.has(f.channel)) {
      this.pending.delete(f.channel);
      throw unexpected('expected content for basic.deliver, got a method frame instead', f.channel);
    }
    if (p.length < 4 || p.readUInt32BE(0) !== BASIC_DELIVER_ID) return false;
    this.pending.set(f.channel, { deliver: this.decodeDeliver(p, f.channel), header: undefined, received: 0, first: undefined, rest: undefined });
    return true;
  }

  private onHeader(f: Frame): boolean {
    const d = this.pending.get(f.channel);
    if (d === undefined) return false;
    if (d.header !== undefined) {
      this.pending.delete(f.channel);
      throw unexpected('expected content body for basic.deliver, got a content header frame instead', f.channel);
    }
    let header: ContentHeader;
    try {
      header = parseContentHeader(f.payload);
    } catch (e) {
      this.pending.delete(f.channel);
      throw e instanceof AmqpProtocolError ? e.inMethod(60, 60).onChannel(f.channel) : e;
    }
    d.header = header;
    if (header.bodySize === 0) this.complete(f.channel, d, header, EMPTY);
    return true;
  }

  private onBody(f: Frame): boolean {
    const d = this.pending.get(f.channel);
    if (d === undefined) return false;
    const header = d.header;
    if (header === undefined) {
      this.pending.delete(f.channel);
      throw unexpected('expected content header for basic.deliver, got a content body frame instead', f.channel);
    }
    const chunk = f.payload;
    d.received += chunk.length;
    if (d.received > header.bodySize) {
      this.pending.delete(f.channel);
      throw new AmqpProtocolError(ReplyCode.FRAME_ERROR, `content body of at least ${d.received} bytes exceeds the body size ${header.bodySize} in its content header`, 60, 60, f.channel);
    }
    if (d.first === undefined) d.first = chunk;
    else (d.rest ??= []).push(chunk);
    if (d.received === header.bodySize) {
      const body = d.rest === undefined ? d.first : Buffer.concat([d.first, ...d.rest], header.bodySize);
      this.complete(f.channel, d, header, body);
    }
    return true;
  }

  private complete(channel: number, d: Pending, header: ContentHeader, body: Buffer): void {
    this.pending.delete(channel);
    this.onDelivery(channel, d.deliver, header, body);
  }

  /** consumer-tag shortstr, delivery-tag longlong, redelivered bit, exchange shortstr, routing-key shortstr. */
  private decodeDeliver(p: Buffer, channel: number): BasicDeliver {
    const bad = (): AmqpProtocolError => new AmqpProtocolError(ReplyCode.SYNTAX_ERROR, 'malformed basic.deliver', 60, 60, channel);
    let o = 4;
    if (o >= p.length) throw bad();
    const tagLength = p[o++];
    if (o + tagLength + 9 >= p.length) throw bad();
    const consumerTag = this.consumerTags.read(p, o, tagLength);
    o += tagLength;
    const deliveryTag = p.readUInt32BE(o) * TWO_POW_32 + p.readUInt32BE(o + 4);
    const redelivered = (p[o + 8] & 1) !== 0;
    o += 9;
    const exchangeLength = p[o++];
    if (o + exchangeLength >= p.length) throw bad();
    const exchange = this.exchanges.read(p, o, exchangeLength);
    o += exchangeLength;
    const routingKeyLength = p[o++];
    if (o + routingKeyLength !== p.length) throw bad();
    const routingKey = this.routingKeys.read(p, o, routingKeyLength);
    return { name: 'basic.deliver', consumerTag, deliveryTag, redelivered, exchange, routingKey };
  }
}

function unexpected(text: string, channel: number): AmqpProtocolError {
  return new AmqpProtocolError(ReplyCode.UNEXPECTED_FRAME, text, 60, 60, channel);
}
