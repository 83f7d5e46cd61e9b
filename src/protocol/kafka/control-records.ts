// Control records: the transaction markers a transaction coordinator writes
// (through WriteTxnMarkers) to end a transaction in each partition it touched.
// A control batch (attributes: transactional + control) holds one record whose
//
//   key   = version: int16 (0), type: int16 (0 ABORT, 1 COMMIT)
//   value = version: int16 (0), coordinatorEpoch: int32
//
// (Kafka's ControlRecordType and EndTransactionMarker.) Consumers with
// isolation.level=read_committed use them to drop aborted records.

import { corrupt } from './protocol-error.js';
import { buildRecordBatchSync, type KafkaRecord } from './record-batch.js';

export const ControlRecordType = { ABORT: 0, COMMIT: 1 } as const;

export interface TransactionMarker {
  type: number;
  coordinatorEpoch: number;
}

const CURRENT_CONTROL_VERSION = 0;

export function encodeControlRecordKey(type: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt16BE(CURRENT_CONTROL_VERSION, 0);
  b.writeInt16BE(type, 2);
  return b;
}

export function encodeTransactionMarkerValue(coordinatorEpoch: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeInt16BE(CURRENT_CONTROL_VERSION, 0);
  b.writeInt32BE(coordinatorEpoch, 2);
  return b;
}

/**
 * The control type of a control record's key. Kafka reads newer key versions
 * by their first two fields, so versions above 0 are accepted too.
 */
export function decodeControlRecordType(key: Buffer | null): number {
  if (key === null || key.length < 4) throw corrupt('control record key shorter than 4 bytes');
  if (key.readInt16BE(0) < 0) throw corrupt(`control record key version ${key.readInt16BE(0)}`);
  return key.readInt16BE(2);
}

/** The marker a control record carries (ABORT or COMMIT with the coordinator epoch). */
export function decodeTransactionMarker(record: Pick<KafkaRecord, 'key' | 'value'>): TransactionMarker {
  const type = decodeControlRecordType(record.key);
  if (type !== ControlRecordType.ABORT && type !== ControlRecordType.COMMIT) throw corrupt(`control record type ${type} is not a transaction marker`);
  const v = record.value;
  if (v === null || v.length < 6) throw corrupt('transaction marker value shorter than 6 bytes');
  if (v.readInt16BE(0) < 0) throw corrupt(`transaction marker version ${v.readInt16BE(0)}`);
  return { type, coordinatorEpoch: v.readInt32BE(2) };
}

export interface MarkerBatchSpec {
  producerId: bigint;
  producerEpoch: number;
  marker: TransactionMarker;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  timestamp?: bigint;
}

/** A control batch holding one transaction marker, as a partition leader appends it. */
export function buildMarkerBatch(spec: MarkerBatchSpec): Buffer {
  return buildRecordBatchSync({
    baseOffset: spec.baseOffset,
    partitionLeaderEpoch: spec.partitionLeaderEpoch,
    producerId: spec.producerId,
    producerEpoch: spec.producerEpoch,
    isTransactional: true,
    isControl: true,
    baseTimestamp: spec.timestamp,
    records: [{ key: encodeControlRecordKey(spec.marker.type), value: encodeTransactionMarkerValue(spec.marker.coordinatorEpoch) }],
  });
}
