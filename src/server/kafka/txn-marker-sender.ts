// The transaction coordinator's markers to partitions another node leads (docs/cluster.md,
// "Transactions"): Kafka's WriteTxnMarkers v1, on one connection per node and vhost, logged in as
// the cluster's link user. Requests to one node go one at a time; the coordinator retries a
// marker that failed (Kafka's TransactionMarkerChannelManager retries until the marker lands or
// is fenced), so a failure here is an exception with the leader's error, and a fence is the
// StreamError the coordinator stops on.

import { StreamError } from '../../broker/stream/errors.js';
import type { TxnMarker } from '../../broker/stream/txn/api.js';
import { ErrorCode, errorCodeName } from '../../protocol/kafka/index.js';
import { KafkaPeerSession, linkLogin } from './peer-session.js';

const WRITE_TXN_MARKERS = 27 as const;
const WRITE_TXN_MARKERS_VERSION = 1;
/** How long a marker may wait for the leader's in-sync replicas (Kafka's request.timeout.ms). */
const MARKER_WAIT_MS = 30_000;

export interface TxnMarkerSenderOptions {
  /** A live node's Kafka listener, by node id. */
  address(nodeId: number): { readonly host: string; readonly port: number } | undefined;
  /** The cluster's secret (the link user's password), once known. */
  secret(): string | undefined;
}

interface Link {
  readonly session: KafkaPeerSession;
  /** The request in flight; the next one waits for it. */
  tail: Promise<unknown>;
}

export class KafkaTxnMarkerSender {
  private readonly links = new Map<string, Link>();
  private closed = false;

  constructor(private readonly o: TxnMarkerSenderOptions) {}

  /** Writes the marker on `nodeId`'s partition; resolves once that node has it on its in-sync replicas. */
  send(vhost: string, nodeId: number, topic: string, partition: number, marker: TxnMarker): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the marker sender is closed'));
    const link = this.link(vhost, nodeId);
    const run = link.tail.then(
      () => this.write(link.session, nodeId, topic, partition, marker),
      () => this.write(link.session, nodeId, topic, partition, marker),
    );
    link.tail = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.closed = true;
    for (const l of this.links.values()) l.session.close();
    this.links.clear();
  }

  private link(vhost: string, nodeId: number): Link {
    const key = `${nodeId}\u0000${vhost}`;
    let l = this.links.get(key);
    if (l === undefined) {
      const session = new KafkaPeerSession('wharf-txn-markers', linkLogin(vhost, () => this.o.secret()));
      l = { session, tail: Promise.resolve() };
      this.links.set(key, l);
    }
    return l;
  }

  private async write(session: KafkaPeerSession, nodeId: number, topic: string, partition: number, m: TxnMarker): Promise<void> {
    const at = this.o.address(nodeId);
    if (at === undefined) throw new Error(`node ${nodeId} is not up`);
    let code: number;
    try {
      const body = await session.request(WRITE_TXN_MARKERS, WRITE_TXN_MARKERS_VERSION, at, {
        markers: [{
          producerId: BigInt(m.producerId),
          producerEpoch: m.producerEpoch,
          transactionResult: m.commit,
          topics: [{ name: topic, partitionIndexes: [partition] }],
          coordinatorEpoch: m.coordinatorEpoch,
        }],
      }, MARKER_WAIT_MS);
      code = body.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    } catch (err) {
      session.drop();
      throw err;
    }
    // Kafka's TransactionMarkerRequestCompletionHandler: these end the marker, anything else is retried.
    if (code === ErrorCode.NONE) return;
    const what = `${topic}-${partition} on node ${nodeId}: ${errorCodeName(code)}`;
    if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new StreamError('unknown-partition', what);
    if (code === ErrorCode.INVALID_PRODUCER_EPOCH || code === ErrorCode.PRODUCER_FENCED) throw new StreamError('producer-fenced', what);
    if (code === ErrorCode.TRANSACTION_COORDINATOR_FENCED) throw new StreamError('coordinator-fenced', what);
    throw new Error(`the marker was refused by ${what}`);
  }
}
