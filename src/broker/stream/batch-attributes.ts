// Two bits of a stored v2 record batch's attributes (an int16 at byte 21 of the batch, outside
// what the broker rewrites) that transactions give meaning to: bit 4, the batch belongs to a
// producer's transaction; bit 5, it is a control batch (a COMMIT or ABORT marker the transaction
// coordinator wrote), which readers skip instead of delivering as records.

const ATTRIBUTES_AT = 21;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

export function isTransactionalBatch(batch: Buffer): boolean {
  return (batch.readInt16BE(ATTRIBUTES_AT) & TRANSACTIONAL) !== 0;
}

/** A transaction marker, not records: AMQP consumers and any reader delivering records skip it. */
export function isControlBatch(batch: Buffer): boolean {
  return (batch.readInt16BE(ATTRIBUTES_AT) & CONTROL) !== 0;
}
